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
