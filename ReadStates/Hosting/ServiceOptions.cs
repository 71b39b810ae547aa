using ReadStates.Api;

namespace ReadStates.Hosting;

/// <summary>Limits of the gRPC edge. Bound from the <c>Service</c> configuration section.</summary>
public sealed class ServiceOptions
{
    public const int MaxLimit = 100_000;

    /// <summary>Most entries in one BulkAck.</summary>
    public int MaxBulkAckEntries { get; set; } = 1000;

    /// <summary>Most user ids in one AddMentions or RemoveMentions.</summary>
    public int MaxMentionUsers { get; set; } = 1000;

    /// <summary>Most channel ids in one Get or Delete.</summary>
    public int MaxChannelIds { get; set; } = 1000;

    /// <summary>
    /// How long a stop (SIGTERM) waits for open calls to finish before Kestrel aborts them. The engine
    /// starts flushing when the stop begins and finishes after the drain, so this never cuts the final
    /// flush; it only bounds how long a client that keeps calls open can delay it.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan MaxDrainTimeout = TimeSpan.FromMinutes(10);

    public RequestLimits ToLimits() => new(MaxBulkAckEntries, MaxMentionUsers, MaxChannelIds);

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        Check(errors, nameof(MaxBulkAckEntries), MaxBulkAckEntries);
        Check(errors, nameof(MaxMentionUsers), MaxMentionUsers);
        Check(errors, nameof(MaxChannelIds), MaxChannelIds);
        if (DrainTimeout < TimeSpan.Zero || DrainTimeout > MaxDrainTimeout)
            errors.Add($"Service:DrainTimeout must be between 00:00:00 and {MaxDrainTimeout}; got {DrainTimeout}.");
        return errors;
    }

    private static void Check(List<string> errors, string name, int value)
    {
        if (value < 1 || value > MaxLimit)
            errors.Add($"{name} must be between 1 and {MaxLimit}; got {value}.");
    }
}
