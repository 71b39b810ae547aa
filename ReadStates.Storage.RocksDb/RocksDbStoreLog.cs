using Microsoft.Extensions.Logging;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.RocksDb;

internal static partial class RocksDbStoreLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "RocksDB store opened at {Path} (sync writes: {Sync})")]
    public static partial void Opened(ILogger logger, string path, bool sync);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "RocksDB store at {Path} closed")]
    public static partial void Closed(ILogger logger, string path);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Unreadable read state of user {UserId} channel {ChannelId} in RocksDB")]
    public static partial void CorruptValue(ILogger logger, ulong userId, ulong channelId, Exception exception);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "RocksDB at {Path} (instance {Generation}) refuses writes: {Error}; it is reopened once the cause clears")]
    public static partial void Stopped(ILogger logger, string path, long generation, string error);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "RocksDB at {Path} waits for free space before reopening: {FreeKiB} KiB free, {NeededKiB} KiB needed")]
    public static partial void WaitingForSpace(ILogger logger, string path, long freeKiB, long neededKiB);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "RocksDB at {Path} closed instance {Generation} for a reopen in {ElapsedMs} ms")]
    public static partial void ClosedForReopen(ILogger logger, string path, long generation, long elapsedMs);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "RocksDB at {Path} could not be reopened: {Error}; next attempt in {RetryMs} ms, loads and writes fail until then")]
    public static partial void ReopenFailed(ILogger logger, string path, string error, long retryMs);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning, Message = "RocksDB at {Path} reopened as instance {Generation} in {ElapsedMs} ms; writes are accepted again")]
    public static partial void Reopened(ILogger logger, string path, long generation, long elapsedMs);
}
