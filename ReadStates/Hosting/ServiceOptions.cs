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

    /// <summary>Most unanswered operations of one <c>Stream</c> call; past it the server stops reading that stream.</summary>
    public int StreamMaxInFlight { get; set; } = 256;

    /// <summary>
    /// Runs request processing on the socket's I/O thread instead of handing it to the thread pool (Kestrel's
    /// <c>SocketTransportOptions.UnsafePreferInlineScheduling</c>): fewer thread hops per call on small core
    /// counts, but a handler that blocks stalls every connection of that I/O queue. Chosen by measurement
    /// (BENCHMARKS.md, "Runtime settings").
    /// </summary>
    public bool InlineScheduling { get; set; }

    /// <summary>
    /// Serves the internal <c>readstates.internal.diagnostics.Diagnostics</c> service (allocation and GC
    /// counters, an empty method) that ReadStates.Bench's <c>alloc</c> and <c>gc</c> modes read. Off in production.
    /// </summary>
    public bool BenchDiagnostics { get; set; }

    public RequestLimits ToLimits() => new(MaxBulkAckEntries, MaxMentionUsers, MaxChannelIds, StreamMaxInFlight);

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        Check(errors, nameof(MaxBulkAckEntries), MaxBulkAckEntries);
        Check(errors, nameof(MaxMentionUsers), MaxMentionUsers);
        Check(errors, nameof(MaxChannelIds), MaxChannelIds);
        Check(errors, nameof(StreamMaxInFlight), StreamMaxInFlight);
        return errors;
    }

    private static void Check(List<string> errors, string name, int value)
    {
        if (value < 1 || value > MaxLimit)
            errors.Add($"Service:{name} must be between 1 and {MaxLimit}; got {value}.");
    }
}
