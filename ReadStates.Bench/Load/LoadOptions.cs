using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Load;

/// <summary>
/// Every option of load and compare, parsed and checked before anything connects: a typo in the last
/// option must not cost a warm-up against a live server first.
/// </summary>
internal sealed record LoadOptions(
    Workload Workload,
    RunSettings Run,
    int PeerPid,
    string OutDir,
    string? Name,
    bool FindMax,
    TimeSpan P99Target,
    TimeSpan TrialDuration,
    TimeSpan TrialWarmup,
    int MaxTrials,
    bool RetryFailed,
    int MinThreads,
    TimeSpan ConnectTimeout,
    Transport Transport,
    int StreamInFlight)
{
    public static LoadOptions Parse(ParsedArgs a)
    {
        var workload = Workload.FromArgs(a);
        bool sleep = a.RequiredString("pacing") switch
        {
            "spin" => false,
            "sleep" => true,
            var p => throw new UsageException($"--pacing must be spin or sleep; got '{p}'."),
        };
        var transport = a.RequiredString("transport") switch
        {
            "unary" => Transport.Unary,
            "stream" => Transport.Stream,
            var t => throw new UsageException($"--transport must be unary or stream; got '{t}'."),
        };
        double rate = a.Double("rate");
        if (rate <= 0) throw new UsageException("--rate must be positive.");
        int connections = a.Int("connections");
        if (connections < 1) throw new UsageException("--connections must be at least 1.");
        var run = new RunSettings(rate, a.Duration("duration"), a.Duration("warmup"), connections, Math.Max(1, a.Int("workers")),
            Math.Max(1, a.Int("max-inflight")), a.Duration("drain"), a.Int("seed"), !a.Flag("no-progress"), a.Int("server-pid"), sleep, transport);
        if (run.Duration <= TimeSpan.Zero) throw new UsageException("--duration must be positive.");
        int peerPid = a.Command.Options.Any(o => o.Name == "peer-pid") ? a.Int("peer-pid") : 0;
        string minThreads = a.RequiredString("min-threads");
        int min = minThreads == "auto" ? ClientThreadPool.AutoMinThreads : ParsedArgs.ParseCount(minThreads, "min-threads") is var m and >= 0 and <= 1024
            ? (int)m : throw new UsageException("--min-threads must be auto or 0..1024.");
        int streamInFlight = a.Int("stream-inflight");
        if (streamInFlight < 1) throw new UsageException("--stream-inflight must be at least 1.");
        var options = new LoadOptions(workload, run, peerPid, a.RequiredString("out"), a.String("name"), a.Command.Options.Any(o => o.Name == "find-max") && a.Flag("find-max"),
            a.Duration("p99-target"), a.Duration("trial-duration"), a.Duration("trial-warmup"), a.Int("max-trials"), a.Flag("retry-failed"),
            min, a.Duration("connect-timeout"), transport, streamInFlight);
        LoadTargets.Check(a.RequiredString("target"));
        if (a.Command.Options.Any(o => o.Name == "peer")) LoadTargets.Check(a.RequiredString("peer"));
        if (transport == Transport.Stream && a.RequiredString("target").StartsWith("redis://", StringComparison.OrdinalIgnoreCase))
            throw new UsageException("--transport stream is for the ReadStates gRPC target; a Redis peer pipelines on its sockets anyway.");
        // compare's rate list is checked here too.
        if (a.Command.Options.Any(o => o.Name == "rates") && a.Doubles("rates") is { } rates && (rates.Count == 0 || rates.Any(r => r <= 0)))
            throw new UsageException("--rates must be a comma-separated list of positive rates.");
        return options;
    }

    public RunSettings At(double rate, TimeSpan? duration = null, TimeSpan? warmup = null, bool peer = false) =>
        Run with { Rate = rate, Duration = duration ?? Run.Duration, Warmup = warmup ?? Run.Warmup, ServerPid = peer ? PeerPid : Run.ServerPid };
}

/// <summary>How the gRPC target sends operations: one unary call each, or as entries of a few bidirectional Stream calls.</summary>
internal enum Transport { Unary, Stream }
