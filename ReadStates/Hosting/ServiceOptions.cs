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

    /// <summary>Most users one Watch stream may have subscribed at once (and entries in one WatchRequest).</summary>
    public int MaxWatchSubscriptions { get; set; } = 100_000;

    /// <summary>
    /// Most states plus deletions one Watch event carries. A subscribed user whose missed changes exceed it
    /// (a consumer that fell far behind a busy user) gets a RESYNC event instead; a full Get is the better tool.
    /// </summary>
    public int MaxWatchEventStates { get; set; } = 1000;

    public const int MaxWatchSubscriptionsLimit = 10_000_000;

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
    /// The thread pool's minimum worker and I/O threads, raised to this at start (never lowered below the
    /// runtime's own minimum, which is the core count). On one or two cores the runtime keeps about three
    /// workers, and a worker blocked in a synchronous store call (a RocksDB write-behind batch, a load) left
    /// requests queued for tens of milliseconds: 8 took p99 at 5,000 req/s on one core from 25–34 ms to
    /// 3.6–4.3 ms (BENCHMARKS.md, "Thread-pool minimum"). 0 = the runtime's default.
    /// </summary>
    public int MinThreads { get; set; } = DefaultMinThreads;

    public const int DefaultMinThreads = 8;
    public const int MaxMinThreads = 1024;

    /// <summary>
    /// Serves the internal <c>readstates.internal.diagnostics.Diagnostics</c> service (allocation and GC
    /// counters, an empty method) that ReadStates.Bench's <c>alloc</c> and <c>gc</c> modes read. Off in production.
    /// </summary>
    public bool BenchDiagnostics { get; set; }

    public RequestLimits ToLimits() => new(MaxBulkAckEntries, MaxMentionUsers, MaxChannelIds, StreamMaxInFlight);

    public WatchLimits ToWatchLimits() => new(MaxWatchSubscriptions, MaxWatchEventStates);

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        Check(errors, nameof(MaxBulkAckEntries), MaxBulkAckEntries);
        Check(errors, nameof(MaxMentionUsers), MaxMentionUsers);
        Check(errors, nameof(MaxChannelIds), MaxChannelIds);
        if (DrainTimeout < TimeSpan.Zero || DrainTimeout > MaxDrainTimeout)
            errors.Add($"Service:DrainTimeout must be between 00:00:00 and {MaxDrainTimeout}; got {DrainTimeout}.");
        if (MaxWatchSubscriptions < 1 || MaxWatchSubscriptions > MaxWatchSubscriptionsLimit)
            errors.Add($"{nameof(MaxWatchSubscriptions)} must be between 1 and {MaxWatchSubscriptionsLimit}; got {MaxWatchSubscriptions}.");
        Check(errors, nameof(MaxWatchEventStates), MaxWatchEventStates);
        Check(errors, nameof(StreamMaxInFlight), StreamMaxInFlight);
        if (MinThreads < 0 || MinThreads > MaxMinThreads)
            errors.Add($"{nameof(MinThreads)} must be between 0 (the runtime's default) and {MaxMinThreads}; got {MinThreads}.");
        return errors;
    }

    private static void Check(List<string> errors, string name, int value)
    {
        if (value < 1 || value > MaxLimit)
            errors.Add($"{name} must be between 1 and {MaxLimit}; got {value}.");
    }
}
