namespace ReadStates.Core.Storage;

/// <summary>One user's part of a <see cref="StateBatch"/>.</summary>
public struct UserEntry
{
    public ulong UserId;
    /// <summary>The user's version at the time of the snapshot.</summary>
    public ulong Version;
    /// <summary>
    /// The user's sync floor: tombstones at or below it are forgotten. A store writes a tombstone above the
    /// floor as a tombstone row, deletes one at or below it, keeps the floor in the user's meta row and
    /// returns it (and the tombstone rows above it) on load.
    /// </summary>
    public ulong SyncFloor;
    public int StateStart;
    public int StateCount;
}

/// <summary>A state as the store sees it: the fields, mention overflow, and a range of held mention ids.</summary>
public struct StoredState
{
    public ReadState State;
    public int OverflowCount;
    public ulong OverflowMaxId;
    public int MentionStart;
    public int MentionLength;

    public readonly bool IsDeleted => State.IsDeleted;
}

/// <summary>
/// Flat, reusable buffers of users, states and mention ids: the unit of store I/O.
/// A batch is reused across flushes, so the steady-state write path allocates nothing.
/// </summary>
public sealed class StateBatch
{
    private UserEntry[] _users = new UserEntry[16];
    private StoredState[] _states = new StoredState[64];
    private ulong[] _mentions = new ulong[64];

    public int UserCount { get; private set; }
    public int StateCount { get; private set; }
    public int MentionCount { get; private set; }

    public ReadOnlySpan<UserEntry> Users => _users.AsSpan(0, UserCount);
    public ReadOnlySpan<StoredState> States => _states.AsSpan(0, StateCount);
    public ReadOnlySpan<ulong> Mentions => _mentions.AsSpan(0, MentionCount);

    public ReadOnlySpan<StoredState> StatesOf(scoped in UserEntry user) => _states.AsSpan(user.StateStart, user.StateCount);
    public ReadOnlySpan<ulong> MentionsOf(scoped in StoredState state) => _mentions.AsSpan(state.MentionStart, state.MentionLength);

    public void Clear()
    {
        UserCount = 0;
        StateCount = 0;
        MentionCount = 0;
    }

    /// <summary>Starts a user; the states added next belong to it until the next BeginUser.</summary>
    public void BeginUser(ulong userId, ulong version)
    {
        if (UserCount == _users.Length) Array.Resize(ref _users, _users.Length * 2);
        _users[UserCount++] = new UserEntry { UserId = userId, Version = version, StateStart = StateCount };
    }

    /// <summary>Raises the current user's version (stores learn it from the rows they read).</summary>
    public void RaiseVersion(ulong version)
    {
        ref var user = ref _users[UserCount - 1];
        if (version > user.Version) user.Version = version;
    }

    /// <summary>Raises the current user's sync floor (stores learn it from the meta row).</summary>
    public void RaiseSyncFloor(ulong floor)
    {
        ref var user = ref _users[UserCount - 1];
        if (floor > user.SyncFloor) user.SyncFloor = floor;
    }

    public void AddState(in ReadState state, int overflowCount, ulong overflowMaxId, ReadOnlySpan<ulong> mentionIds)
    {
        if (UserCount == 0) throw new InvalidOperationException("BeginUser first.");
        if (StateCount == _states.Length) Array.Resize(ref _states, _states.Length * 2);
        int start = AppendMentions(mentionIds);
        ref var s = ref _states[StateCount++];
        s.State = state;
        s.OverflowCount = overflowCount;
        s.OverflowMaxId = overflowMaxId;
        s.MentionStart = start;
        s.MentionLength = mentionIds.Length;
        _users[UserCount - 1].StateCount++;
        if (state.Version > _users[UserCount - 1].Version) _users[UserCount - 1].Version = state.Version;
    }

    private int AppendMentions(ReadOnlySpan<ulong> ids)
    {
        int start = MentionCount;
        if (MentionCount + ids.Length > _mentions.Length)
            Array.Resize(ref _mentions, Math.Max(_mentions.Length * 2, MentionCount + ids.Length));
        ids.CopyTo(_mentions.AsSpan(MentionCount));
        MentionCount += ids.Length;
        return start;
    }
}
