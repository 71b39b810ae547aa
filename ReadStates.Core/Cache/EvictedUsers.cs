using ReadStates.Core.Storage;

namespace ReadStates.Core.Cache;

/// <summary>
/// Dirty users evicted from a shard: each one's full state waits here, in memory, until the store
/// has it, so eviction never drops a change. A call for such a user reinstates it from here instead
/// of loading stale data from the store. Their states count against the engine-wide backlog, which
/// pushes back on writers when full. Not thread-safe (shard lock).
/// </summary>
internal sealed class EvictedUsers(EngineShared shared)
{
    private readonly Dictionary<ulong, EvictedUser> _users = [];

    public int Count => _users.Count;

    public bool Contains(ulong userId) => _users.Count > 0 && _users.ContainsKey(userId);

    public void Add(EvictedUser user)
    {
        _users[user.UserId] = user;
        shared.AddBacklog(user.Units);
    }

    /// <summary>Takes a user back out (to reinstate it); false when it is not here.</summary>
    public bool TryTake(ulong userId, out EvictedUser user)
    {
        if (_users.Count == 0)
        {
            user = null!;
            return false;
        }
        if (!_users.Remove(userId, out user!)) return false;
        shared.AddBacklog(-user.Units);
        return true;
    }

    public bool TryGet(ulong userId, out EvictedUser user) => _users.TryGetValue(userId, out user!);

    public IEnumerable<EvictedUser> All => _users.Values;
}

/// <summary>A dirty user evicted from the cache: its full state waits here until the store has it.</summary>
internal sealed class EvictedUser(ulong userId, StateBatch states, ulong version, ulong persistedVersion, ulong syncFloor, ulong persistedFloor)
{
    public ulong UserId { get; } = userId;
    public StateBatch States { get; } = states;
    public ulong Version { get; } = version;
    public ulong PersistedVersion { get; set; } = persistedVersion;
    /// <summary>The user's sync floor; its copy still holds the compacted tombstones above <see cref="PersistedFloor"/>.</summary>
    public ulong SyncFloor { get; } = syncFloor;
    public ulong PersistedFloor { get; set; } = persistedFloor;
    public long CollectedInCycle { get; set; } = -1;
    public long Units => Math.Max(1, States.StateCount);
    public bool FullyPersisted => PersistedVersion >= Version && PersistedFloor >= SyncFloor;
}
