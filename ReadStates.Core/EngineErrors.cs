namespace ReadStates.Core;

/// <summary>
/// A call would give a user more live read states than <see cref="EngineOptions.MaxStatesPerUser"/>;
/// nothing was changed. The edge decides how to name the offending input (a field, an entry).
/// </summary>
public sealed class StateLimitException(ulong userId, int states, int limit, int entryIndex)
    : Exception($"User {userId} would have {states} read states; the limit is {limit}.")
{
    public ulong UserId { get; } = userId;
    /// <summary>Live states the user would have had.</summary>
    public int States { get; } = states;
    public int Limit { get; } = limit;
    /// <summary>The command (of a bulk call) that would pass the limit; -1 for a single-channel call.</summary>
    public int EntryIndex { get; } = entryIndex;
}

/// <summary>The write-behind backlog is full: the service sheds load rather than lose data.</summary>
public sealed class BackpressureException(bool storeDown, string message) : Exception(message)
{
    /// <summary>True when the store is failing (maps to UNAVAILABLE), false when it is only behind (RESOURCE_EXHAUSTED).</summary>
    public bool StoreDown { get; } = storeDown;
}

/// <summary>A user could not be loaded from the store.</summary>
public sealed class StoreUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// A conditional write's expected version did not match: nothing was changed. <see cref="ChannelId"/> is the
/// state compared (0 when the user's version was), <see cref="Current"/> what the client must refresh to.
/// </summary>
public sealed class VersionMismatchException(ulong userId, ulong channelId, ulong expected, ulong current, int entryIndex)
    : Exception(channelId == 0
        ? $"User {userId} is at version {current}, not the expected {expected}; nothing was changed."
        : $"The read state of user {userId} in channel {channelId} is at version {current}, not the expected {expected}; nothing was changed.")
{
    public ulong UserId { get; } = userId;
    /// <summary>The channel whose state was compared; 0 when the precondition was on the user's version.</summary>
    public ulong ChannelId { get; } = channelId;
    public ulong Expected { get; } = expected;
    /// <summary>The version now: the state's (0 = no live state there), or the user's.</summary>
    public ulong Current { get; } = current;
    /// <summary>The entry of a bulk call (BulkAck entry, Delete channel) that failed; -1 for a single-state or per-user precondition.</summary>
    public int EntryIndex { get; } = entryIndex;
}

/// <summary>A sync read asked for changes since a version the user has not reached: nothing was read.</summary>
public sealed class VersionAheadException(ulong userId, ulong since, ulong current)
    : Exception($"User {userId} is at version {current}; changes since {since} cannot exist. Do a full read.")
{
    public ulong UserId { get; } = userId;
    public ulong Since { get; } = since;
    public ulong Current { get; } = current;
}
