namespace ReadStates.Core.Cache;

/// <summary>
/// A resident user: where its states are, its versions, and its place in the eviction order
/// (<see cref="Lru"/>, kept by <see cref="SegmentedLru{TNodes}"/>). Lives in a struct array; 64 bytes, so that a
/// call on a user reads at most two adjacent cache lines of it and nothing else of the shard's per-user data.
/// Counts are 16-bit: a user holds at most <see cref="EngineOptions.MaxCellsPerUser"/> cells.
/// </summary>
internal struct UserSlot
{
    // The fields one call reads come first (the LRU node, where the block is, the versions, the counts):
    // 40 bytes, so that in a slot that straddles two cache lines the call's reads usually stay in one of
    // them. The user id and the floors (read when a user is evicted, written or compacted) come last.
    /// <summary>The eviction order's node; while the slot is free, its <see cref="LruNode.Next"/> is the next free slot.</summary>
    public LruNode Lru;
    /// <summary>Start of the states block in the arena; -1 when the user has no states.</summary>
    public int StatesStart;
    /// <summary>Raised once by every call that changes this user's states.</summary>
    public ulong Version;
    /// <summary>Every change with a version at or below this one is in the store.</summary>
    public ulong PersistedVersion;
    /// <summary>Entries in the states block, tombstones included, sorted by channel id.</summary>
    public ushort Count;
    public ushort Tombstones;
    /// <summary>Tombstones at or below <see cref="SyncFloor"/>: compacted, kept only until the store has purged them.</summary>
    public ushort Purging;
    public byte StatesClass;
    /// <summary>In the shard's dirty queue.</summary>
    public bool Queued;
    public ulong UserId;
    /// <summary>
    /// The sync floor: the highest version whose tombstone was compacted (forgotten). A sync read since a
    /// version below it cannot be answered exactly (resync). Only rises.
    /// </summary>
    public ulong SyncFloor;
    /// <summary>The floor the store has: its tombstone rows at or below it are purged.</summary>
    public ulong PersistedFloor;

    public readonly int Live => Count - Tombstones;
    /// <summary>Tombstones a sync read still reports (above the floor).</summary>
    public readonly int Retained => Tombstones - Purging;
    public readonly bool IsDirty => Version > PersistedVersion || SyncFloor > PersistedFloor;
    /// <summary>Cache capacity units: every resident user costs at least one.</summary>
    public readonly long Units => Math.Max(1, (int)Count);
}
