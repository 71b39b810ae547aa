namespace ReadStates.Core;

/// <summary>When a change is acknowledged. See docs/engine.md, "Durability".</summary>
public enum DurabilityMode
{
    /// <summary>Once it is in memory; a crash (kill -9, power loss) may lose up to one flush interval of changes.</summary>
    Deferred,
    /// <summary>Once it is in the local change log and fsynced (group commit); a crash loses nothing acknowledged.</summary>
    Durable,
}

/// <summary>The OS scheduling priority of the write-behind thread. See docs/engine.md, "Write-behind".</summary>
public enum WriteBehindPriority
{
    /// <summary>The process's own priority.</summary>
    Normal,
    /// <summary>Nice +10 on Linux (elsewhere: normal): a request's thread takes the core from a flush pass at once.</summary>
    Low,
}

/// <summary>Engine settings, frozen at start. Bound from the <c>Engine</c> configuration section.</summary>
public sealed class EngineOptions
{
    /// <summary>Resident read states across all shards (each resident user counts at least one).</summary>
    public long CapacityStates { get; set; } = 10_000_000;

    /// <summary>Cache shards; a power of two. 0 = 8 × processor count, rounded up.</summary>
    public int Shards { get; set; }

    /// <summary>Most live read states one user may hold.</summary>
    public int MaxStatesPerUser { get; set; } = 10_000;

    /// <summary>Mention ids kept per read state for exact counting; beyond it mentions are counted but not deduplicated.</summary>
    public int MentionIdCap { get; set; } = 100;

    /// <summary>Longest time a change stays only in memory (deferred durability).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Users per store write call.</summary>
    public int FlushBatchUsers { get; set; } = 512;

    /// <summary>
    /// The OS priority of the thread that runs write-behind (collecting dirty users, encoding them, the store's
    /// write). Low by default: a pass is milliseconds of CPU, and on one or two cores it would otherwise share
    /// them evenly with the threads answering calls.
    /// </summary>
    public WriteBehindPriority WriteBehindPriority { get; set; } = WriteBehindPriority.Low;

    /// <summary>
    /// States of evicted dirty users that may wait for the store. Past it, writes get RESOURCE_EXHAUSTED
    /// (store slow) or UNAVAILABLE (store failing) instead of losing data.
    /// </summary>
    public long MaxBacklogStates { get; set; } = 1_000_000;

    /// <summary>Longest wait between two store retries.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A store write still unfinished after this long counts as a stalled store: health reports it as
    /// failing even though no write has failed yet (a paused node, replies later than the request timeout).
    /// </summary>
    public TimeSpan StoreStallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the final flush at shutdown keeps retrying while the store fails: it gives up once no write
    /// has succeeded for this long. A store that accepts writes is flushed to the end, however long that takes.
    /// </summary>
    public TimeSpan ShutdownFlushTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a deleted state's tombstone (channel, version, deletion time) is kept, in memory and in the
    /// store, so that a sync read (<c>Get</c> since a version, <c>Watch</c>) can report the deletion. Past it the
    /// tombstone is compacted and the user's sync floor rises: a sync from below the floor answers "resync".
    /// </summary>
    public TimeSpan TombstoneRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Most tombstones one user keeps. A user who deletes more within the retention has the oldest ones
    /// compacted early (down to three quarters of this), raising the sync floor; deletes never fail for it.
    /// </summary>
    public int MaxTombstonesPerUser { get; set; } = 10_000;

    /// <summary>When a change is acknowledged: in memory (deferred), or once in the fsynced local change log (durable).</summary>
    public DurabilityMode Durability { get; set; } = DurabilityMode.Deferred;

    /// <summary>Durable mode: how long the log writer holds a group open for more callers before its fsync. Zero: a group is whatever arrived during the previous fsync.</summary>
    public TimeSpan GroupCommitWindow { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Directory of the local change log (used by the host, which opens it; Core does no I/O). Empty: a
    /// <c>changelog</c> directory inside <c>Storage:RocksDb:Path</c>, the service's local data directory, whatever the store.
    /// </summary>
    public string LogPath { get; set; } = "";

    /// <summary>
    /// Durable mode: while the store fails, the log keeps every change; past this size the unwritten changes
    /// are rewritten into a fresh segment and the older ones deleted, so the log stays about the size of
    /// what is unwritten rather than of every change since the outage began.
    /// </summary>
    public long LogCompactBytes { get; set; } = 256L << 20;

    public static readonly TimeSpan MaxGroupCommitWindow = TimeSpan.FromMilliseconds(100);

    public const int MaxMentionIdCap = 10_000;
    public static readonly TimeSpan MinFlushInterval = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan MaxFlushInterval = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaxMaxRetryDelay = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan MaxShutdownFlushTimeout = TimeSpan.FromHours(1);
    public const int MaxStatesPerUserLimit = 32_768;
    /// <summary>
    /// Live states plus tombstones one user may hold: three quarters of the largest block (65,536 cells), so
    /// compacted tombstones still waiting for the store's purge have room.
    /// </summary>
    public const int MaxCellsPerUser = 49_152;

    public int EffectiveShards => Shards > 0 ? Shards : (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount * 8);

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Shards < 0 || (Shards > 0 && !System.Numerics.BitOperations.IsPow2(Shards)) || Shards > 4096)
            errors.Add($"Shards must be 0 (auto) or a power of two up to 4096; got {Shards}.");
        if (MaxStatesPerUser < 1 || MaxStatesPerUser > MaxStatesPerUserLimit)
            errors.Add($"MaxStatesPerUser must be between 1 and {MaxStatesPerUserLimit}; got {MaxStatesPerUser}.");
        if (CapacityStates < 1)
            errors.Add($"CapacityStates must be positive; got {CapacityStates}.");
        else if (CapacityStates / EffectiveShards < MaxStatesPerUser)
            errors.Add($"CapacityStates ({CapacityStates}) must hold at least MaxStatesPerUser ({MaxStatesPerUser}) per shard ({EffectiveShards} shards).");
        if (MentionIdCap < 1 || MentionIdCap > MaxMentionIdCap)
            errors.Add($"MentionIdCap must be between 1 and {MaxMentionIdCap}; got {MentionIdCap}.");
        if (FlushInterval < MinFlushInterval || FlushInterval > MaxFlushInterval)
            errors.Add($"FlushInterval must be between 10 ms and 5 minutes; got {FlushInterval}.");
        if (FlushBatchUsers < 1)
            errors.Add($"FlushBatchUsers must be positive; got {FlushBatchUsers}.");
        if (MaxBacklogStates < 1)
            errors.Add($"MaxBacklogStates must be positive; got {MaxBacklogStates}.");
        if (MaxRetryDelay <= TimeSpan.Zero || MaxRetryDelay > MaxMaxRetryDelay)
            errors.Add($"MaxRetryDelay must be positive and at most 10 minutes; got {MaxRetryDelay}.");
        if (StoreStallTimeout < TimeSpan.FromMilliseconds(100) || StoreStallTimeout > TimeSpan.FromHours(1))
            errors.Add($"StoreStallTimeout must be between 100 ms and 1 hour; got {StoreStallTimeout}.");
        if (TombstoneRetention < TimeSpan.FromSeconds(1) || TombstoneRetention > TimeSpan.FromDays(3650))
            errors.Add($"TombstoneRetention must be between 1 s and 3650 days; got {TombstoneRetention}.");
        if (MaxTombstonesPerUser < 1)
            errors.Add($"MaxTombstonesPerUser must be positive; got {MaxTombstonesPerUser}.");
        else if ((long)MaxStatesPerUser + MaxTombstonesPerUser > MaxCellsPerUser)
            errors.Add($"MaxStatesPerUser + MaxTombstonesPerUser must be at most {MaxCellsPerUser}; got {MaxStatesPerUser} + {MaxTombstonesPerUser}.");
        if (ShutdownFlushTimeout < TimeSpan.Zero || ShutdownFlushTimeout > MaxShutdownFlushTimeout)
            errors.Add($"ShutdownFlushTimeout must be between 0 and 1 hour; got {ShutdownFlushTimeout}.");
        if (!Enum.IsDefined(WriteBehindPriority))
            errors.Add($"WriteBehindPriority must be 'normal' or 'low'; got '{WriteBehindPriority}'.");
        if (!Enum.IsDefined(Durability))
            errors.Add($"Durability must be 'deferred' or 'durable'; got '{Durability}'.");
        if (LogCompactBytes < 1 << 20)
            errors.Add($"LogCompactBytes must be at least 1048576 (1 MiB); got {LogCompactBytes}.");
        if (GroupCommitWindow < TimeSpan.Zero || GroupCommitWindow > MaxGroupCommitWindow)
            errors.Add($"GroupCommitWindow must be between 0 and {MaxGroupCommitWindow}; got {GroupCommitWindow}.");
        return errors;
    }
}
