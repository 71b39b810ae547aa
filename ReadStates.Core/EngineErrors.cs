namespace ReadStates.Core;

/// <summary>A request would pass a configured limit; nothing was changed.</summary>
public sealed class LimitExceededException(string field, string description) : Exception(description)
{
    public string Field { get; } = field;
}

/// <summary>The write-behind backlog is full: the service sheds load rather than lose data.</summary>
public sealed class BackpressureException(bool storeDown, string message) : Exception(message)
{
    /// <summary>True when the store is failing (maps to UNAVAILABLE), false when it is only behind (RESOURCE_EXHAUSTED).</summary>
    public bool StoreDown { get; } = storeDown;
}

/// <summary>A user could not be loaded from the store.</summary>
public sealed class StoreUnavailableException(string message, Exception inner) : Exception(message, inner);
