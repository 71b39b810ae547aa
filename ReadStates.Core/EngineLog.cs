using Microsoft.Extensions.Logging;

namespace ReadStates.Core;

internal static partial class EngineLog
{
    [LoggerMessage(1001, LogLevel.Warning, "Loading user {UserId} from the store failed")]
    public static partial void LoadFailed(ILogger logger, ulong userId, Exception exception);

    [LoggerMessage(1002, LogLevel.Warning, "Store write of {Users} users failed (attempt {Attempt}); retrying in {DelayMs} ms")]
    public static partial void WriteFailed(ILogger logger, int users, int attempt, long delayMs, Exception exception);

    [LoggerMessage(1003, LogLevel.Information, "Store writes recovered after {Attempts} attempts")]
    public static partial void WriteRecovered(ILogger logger, int attempts);

    [LoggerMessage(1004, LogLevel.Information, "Write-behind started: {Shards} shards, capacity {Capacity} states, flush every {FlushInterval}")]
    public static partial void Started(ILogger logger, int shards, long capacity, TimeSpan flushInterval);

    [LoggerMessage(1005, LogLevel.Information, "Final flush wrote {Users} users in {ElapsedMs} ms")]
    public static partial void FinalFlush(ILogger logger, long users, long elapsedMs);

    [LoggerMessage(1006, LogLevel.Critical, "Shutdown flush gave up after {Timeout}: changes of {Users} users were NOT written")]
    public static partial void FinalFlushGaveUp(ILogger logger, TimeSpan timeout, int users, Exception? exception);

    [LoggerMessage(1007, LogLevel.Error, "Write-behind loop failed unexpectedly")]
    public static partial void LoopFailed(ILogger logger, Exception exception);
}
