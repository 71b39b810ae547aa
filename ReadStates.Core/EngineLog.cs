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

    [LoggerMessage(1006, LogLevel.Error, "Shutdown flush gave up after no store write succeeded for {Timeout}: {Users} users with {States} changed states are not in the store")]
    public static partial void FinalFlushGaveUp(ILogger logger, TimeSpan timeout, int users, long states);

    [LoggerMessage(1007, LogLevel.Error, "Write-behind loop failed unexpectedly")]
    public static partial void LoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(1008, LogLevel.Warning, "Store write of user {UserId} keeps failing while other users' writes succeed: writing it on its own from now on, retrying with backoff ({Error})")]
    public static partial void UserIsolated(ILogger logger, ulong userId, string error);

    [LoggerMessage(1009, LogLevel.Information, "User {UserId} written to the store after {Attempts} isolated attempts")]
    public static partial void UserRecovered(ILogger logger, ulong userId, int attempts);

    [LoggerMessage(1010, LogLevel.Information, "Change log replayed from {Location}: {Segments} segments, {Records} records of {Users} users, {States} states written to the store, {TornTails} torn or corrupt tails skipped, in {ElapsedMs} ms")]
    public static partial void Replayed(ILogger logger, int segments, long records, int users, long states, int tornTails, long elapsedMs, string location);

    [LoggerMessage(1011, LogLevel.Warning, "Change-log segment {Segment} in {Location}: skipped {Bytes} bytes from offset {Offset}, {What} (a crash mid-write); nothing of it was applied")]
    public static partial void ReplayTornTail(ILogger logger, long segment, long offset, long bytes, string what, string location);

    [LoggerMessage(1012, LogLevel.Warning, "Change-log replay: store {What} failed (attempt {Attempt}); retrying in {DelayMs} ms")]
    public static partial void ReplayStoreFailed(ILogger logger, string what, int attempt, long delayMs, Exception exception);

    [LoggerMessage(1013, LogLevel.Information, "Change log ({Mode}) in {Location}, group commit window {Window}")]
    public static partial void LogOpened(ILogger logger, string mode, string location, TimeSpan window);

    [LoggerMessage(1014, LogLevel.Critical, "Change log at {Location} failed: durable writes are refused until it recovers")]
    public static partial void LogFailed(ILogger logger, string location, Exception exception);

    [LoggerMessage(1015, LogLevel.Warning, "Change log at {Location} still failing: {Error}")]
    public static partial void LogStillFailing(ILogger logger, string location, string error);

    [LoggerMessage(1016, LogLevel.Information, "Change log at {Location} recovered on segment {Segment}; every unwritten change was written to it again")]
    public static partial void LogRecovered(ILogger logger, string location, long segment);

    [LoggerMessage(1017, LogLevel.Warning, "Deleting change-log segment {Segment} in {Location} failed; it will be replayed (harmlessly) at the next start")]
    public static partial void LogDeleteFailed(ILogger logger, long segment, string location, Exception exception);

    [LoggerMessage(1018, LogLevel.Warning, "{Users} users with {States} changed states stay in the change log at {Location} ({Why}); they are written to the store at the next start")]
    public static partial void KeptInLog(ILogger logger, int users, long states, string location, string why);

    [LoggerMessage(1019, LogLevel.Warning, "{Users} users with {States} changed states written to the change log at {Location} ({Why}); they are written to the store at the next start")]
    public static partial void Spilled(ILogger logger, int users, long states, string location, string why);

    [LoggerMessage(1020, LogLevel.Critical, "LOST: {Users} users with {States} acknowledged changed states were not written anywhere: {Why}")]
    public static partial void ChangesLost(ILogger logger, int users, long states, string why);

    [LoggerMessage(1021, LogLevel.Information, "Change log compacted while the store fails: {Users} users' unwritten changes rewritten, {BeforeBytes} bytes of segments down to {AfterBytes}")]
    public static partial void LogCompacted(ILogger logger, int users, long beforeBytes, long afterBytes);

    [LoggerMessage(1022, LogLevel.Information, "Change log stopped: {Groups} groups, {Waits} calls waited, {Syncs} syncs averaging {SyncMicros:F0} µs, {Bytes} bytes written")]
    public static partial void LogStopped(ILogger logger, long groups, long waits, long syncs, double syncMicros, long bytes);

    [LoggerMessage(1023, LogLevel.Warning, "The write-behind thread runs at normal priority (Engine:WriteBehindPriority=low could not be applied: {Why}); flush passes share the cores evenly with calls")]
    public static partial void PriorityNotLowered(ILogger logger, string? why);
}
