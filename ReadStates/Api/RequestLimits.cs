namespace ReadStates.Api;

/// <summary>Per-request limits of the gRPC edge, frozen at start (from <c>Service</c> settings).</summary>
public sealed record RequestLimits(int MaxBulkAckEntries, int MaxMentionUsers, int MaxChannelIds, int StreamMaxInFlight = 256)
{
    public static RequestLimits Default { get; } = new(1000, 1000, 1000);
}

/// <summary>Limits of a Watch stream, frozen at start (from <c>Service</c> settings).</summary>
public sealed record WatchLimits(int MaxSubscriptions, int MaxEventStates)
{
    public static WatchLimits Default { get; } = new(100_000, 1000);
}
