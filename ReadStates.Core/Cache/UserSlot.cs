namespace ReadStates.Core.Cache;

/// <summary>
/// A resident user: where its states are and its versions. Lives in a struct array; its place in the
/// eviction order is kept by <see cref="SegmentedLru"/> under the same slot index.
/// </summary>
internal struct UserSlot
{
    public ulong UserId;
    /// <summary>Raised once by every call that changes this user's states.</summary>
    public ulong Version;
    /// <summary>Every change with a version at or below this one is in the store.</summary>
    public ulong PersistedVersion;
    /// <summary>
    /// The sync floor: the highest version whose tombstone was compacted (forgotten). A sync read since a
    /// version below it cannot be answered exactly (resync). Only rises.
    /// </summary>
    public ulong SyncFloor;
    /// <summary>The floor the store has: its tombstone rows at or below it are purged.</summary>
    public ulong PersistedFloor;
    /// <summary>Start of the states block in the arena; -1 when the user has no states.</summary>
    public int StatesStart;
    /// <summary>Entries in the states block, tombstones included, sorted by channel id.</summary>
    public int Count;
    public int Tombstones;
    /// <summary>Tombstones at or below <see cref="SyncFloor"/>: compacted, kept only until the store has purged them.</summary>
    public int Purging;
    /// <summary>The next free slot while this one is free.</summary>
    public int NextFree;
    public byte StatesClass;
    /// <summary>In the shard's dirty queue.</summary>
    public bool Queued;

    public readonly int Live => Count - Tombstones;
    /// <summary>Tombstones a sync read still reports (above the floor).</summary>
    public readonly int Retained => Tombstones - Purging;
    public readonly bool IsDirty => Version > PersistedVersion || SyncFloor > PersistedFloor;
    /// <summary>Cache capacity units: every resident user costs at least one.</summary>
    public readonly long Units => Math.Max(1, Count);
}
