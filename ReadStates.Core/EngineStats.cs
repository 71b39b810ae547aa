namespace ReadStates.Core;

/// <summary>A point-in-time view of the engine, for metrics and tests.</summary>
public struct EngineStats
{
    public int ResidentUsers;
    /// <summary>Capacity units in use: resident states (tombstones included), at least one per user.</summary>
    public long ResidentStates;
    public int EvictedDirtyUsers;
    public int QueuedDirtyUsers;
    /// <summary>Distinct users, resident or evicted, with changes the store does not have yet.</summary>
    public int DirtyUsers;
    /// <summary>Users whose store write kept failing while others' succeeded: written on their own, with backoff.</summary>
    public int IsolatedUsers;
    /// <summary>Group-commit counters (durable mode only).</summary>
    public Durability.ChangeLogStats? ChangeLog;
    public long BacklogStates;
    public long ReservedStateSlots;
    public long RentedStateSlots;
    public long ReservedMentionWords;
    /// <summary>The last store write succeeded and none has been in flight past <see cref="EngineOptions.StoreStallTimeout"/>.</summary>
    public bool StoreHealthy;
    /// <summary>A store write has been in flight longer than <see cref="EngineOptions.StoreStallTimeout"/>.</summary>
    public bool StoreWriteStalled;
    /// <summary>How long the store write in flight has been running (zero when none is).</summary>
    public TimeSpan StoreWriteInFlight;
    /// <summary>User writes that reached the store (a user written in three passes counts three times; retries count once).</summary>
    public long FlushedUsers;
    public long StoreWriteFailures;
    public long Loads;
    public long Evictions;
    /// <summary>Operations served from memory on the first try.</summary>
    public long Hits;
    /// <summary>Operations that waited for a store load.</summary>
    public long Misses;
    /// <summary>Mentions counted past <see cref="EngineOptions.MentionIdCap"/>.</summary>
    public long MentionOverflows;
    /// <summary>Resident users in the protected segment of the eviction order (seen more than once).</summary>
    public int ProtectedUsers;
    /// <summary>Users with at least one change subscription (Watch).</summary>
    public int WatchedUsers;
    /// <summary>
    /// Upper bound on the age of the oldest change not yet in the store: the time since the start of the
    /// last flush pass that wrote everything it collected. Small while the store keeps up; grows while
    /// writes fail or stall.
    /// </summary>
    public TimeSpan UnwrittenAge;
    /// <summary>The write-behind loop is running (started, not stopped).</summary>
    public bool WriteBehindRunning;
}
