using ReadStates.Core.Storage;

namespace ReadStates.Core.Cache;

/// <summary>A resident user: where its states are, its versions, and its LRU links. Lives in a struct array.</summary>
internal struct UserSlot
{
    public ulong UserId;
    /// <summary>Raised once by every call that changes this user's states.</summary>
    public ulong Version;
    /// <summary>Every change with a version at or below this one is in the store.</summary>
    public ulong PersistedVersion;
    public int StatesStart;
    /// <summary>Entries in the states block, tombstones included, sorted by channel id.</summary>
    public int Count;
    public int Tombstones;
    public int Prev;
    /// <summary>Next in LRU order, or the next free slot while free.</summary>
    public int Next;
    /// <summary>The shard's access tick when this user was last moved to the LRU head.</summary>
    public uint PromotedAt;
    public byte StatesClass;
    /// <summary>In the shard's dirty queue.</summary>
    public bool Queued;

    public readonly int Live => Count - Tombstones;
    public readonly bool IsDirty => Version > PersistedVersion;
    /// <summary>Cache capacity units: every resident user costs at least one.</summary>
    public readonly long Units => Math.Max(1, Count);
}

/// <summary>A dirty user evicted from the cache: its full state waits here until the store has it.</summary>
internal sealed class EvictedUser(ulong userId, StateBatch states, ulong version, ulong persistedVersion)
{
    public ulong UserId { get; } = userId;
    public StateBatch States { get; } = states;
    public ulong Version { get; } = version;
    public ulong PersistedVersion { get; set; } = persistedVersion;
    public long CollectedInCycle { get; set; } = -1;
    public long Units => Math.Max(1, States.StateCount);
}
