using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Load;

internal static class LoadCommand
{
    /// <summary>Options shared by load and compare.</summary>
    public static readonly OptionSpec[] Common =
    [
        new("connections", "Connections (HTTP/2 or RESP sockets); requests are multiplexed on them", "4"),
        new("workers", "Sender threads; each keeps its share of the schedule (more than 1 costs CPU on a small box)", "1"),
        new("rate", "Requests per second, fixed arrival rate (open loop)", "5000"),
        new("duration", "Measured time", "30s"),
        new("warmup", "Time at the same rate before measuring (discarded)", "5s"),
        new("users", "User population (k/m suffixes)", "1m"),
        new("zipf", "Zipf exponent of user popularity (larger = more skewed)", "0.99"),
        new("channels", "Channels per user", "50"),
        new("mix", "Op weights: ack, bulk (bulk ack), mention (fan-out), get", "ack=60,bulk=10,mention=10,get=20"),
        new("bulk-size", "Channels per bulk ack", "10"),
        new("fanout", "Users per mention", "10"),
        new("get-channels", "Channels listed per get (0 = all of the user's states)", "0"),
        new("transport", "gRPC target only: unary (one call per op) or stream (ops as entries of --connections bidirectional Stream calls)", "unary"),
        new("stream-inflight", "transport stream: most ops in flight per stream (the server's bound is Service:StreamMaxInFlight)", "256"),
        new("min-threads", "Generator thread pool minimum (workers and IO); auto = max(8, 2 x visible cores), 0 = runtime default", "auto"),
        new("connect-timeout", "Give up connecting after this long (nothing listening fails at once)", "5s"),
        new("max-inflight", "Most requests in flight per worker before sends wait (their latency still counts from when they were due)", "20000"),
        new("drain", "How long to wait for the last replies", "10s"),
        new("out", "Directory for .hgrm, .json and .svg", "bench-results/load"),
        new("name", "Label of the output files"),
        new("seed", "Random seed", "1"),
        new("no-progress", "No live progress line on stderr", IsFlag: true),
        new("pacing", "spin: sends leave on time but a sender thread keeps a core busy; sleep: 1 ms steps, bursts up to ~1 ms late (counted)", "spin"),
        new("server-pid", "Pid of the target server, to report its CPU time per request (compare: --server-pid for ReadStates, --peer-pid for the peer)", "0"),
        new("p99-target", "find-max: highest acceptable p99", "1ms"),
        new("trial-duration", "find-max: measured time of each trial", "10s"),
        new("trial-warmup", "find-max: warm-up of each trial", "2s"),
        new("max-trials", "find-max: most trials", "10"),
        new("retry-failed", "find-max: repeat a failed trial once before believing it (noisy, shared machines)", IsFlag: true),
    ];

    public static CommandSpec Spec { get; } = new("load",
        "Open-loop load against a running service at a fixed arrival rate, latency from the intended send time\n" +
        "(corrected for coordinated omission); writes .hgrm, JSON and SVG. --find-max searches the highest rate whose p99\n" +
        "stays under --p99-target, then measures p99 at half of it.",
        [
            new("target", "http://127.0.0.1:5000 (ReadStates gRPC, h2c) or redis://127.0.0.1:6379 (Lua scripts)", "http://127.0.0.1:5000"),
            new("find-max", "Search the highest rate with p99 under --p99-target", IsFlag: true),
            .. Common,
        ],
        RunAsync);

    /// <summary>Checks the address, probes it, then connects; every failure is a clear message, never a hang.</summary>
    public static async Task<(ILoadTarget Target, string Server)> ConnectAsync(string address, LoadOptions o, CancellationToken ct)
    {
        LoadTargets.RequireLoopback(address);
        var target = LoadTargets.Create(address, o);
        await LoadTargets.ProbeAsync(address, o.ConnectTimeout, ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(o.ConnectTimeout);
        try
        {
            await target.ConnectAsync(o.Run.Connections, timeout.Token);
        }
        catch (Exception ex)
        {
            await target.DisposeAsync();
            string why = ex is OperationCanceledException && !ct.IsCancellationRequested ? $"not ready within {o.ConnectTimeout.TotalSeconds:0.#} s (--connect-timeout)" : ex.Message;
            throw new UsageException($"Cannot connect to {address}: {why}");
        }
        string server = target is RedisTarget redis ? redis.Describe() : "ReadStates";
        return (target, server);
    }

    /// <summary>Raises the generator's thread-pool minimum and says so (the report carries it too).</summary>
    public static ClientThreadPool.Setting PrepareGenerator(LoadOptions o)
    {
        var setting = ClientThreadPool.Configure(o.MinThreads);
        Console.WriteLine(setting);
        return setting;
    }

    private static async Task<int> RunAsync(ParsedArgs a)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        var o = LoadOptions.Parse(a);
        var workload = o.Workload;
        var threads = PrepareGenerator(o);
        var (target, server) = await ConnectAsync(a.RequiredString("target"), o, cts.Token);
        await using var _ = target;
        string outDir = o.OutDir;
        if (o.FindMax)
        {
            var fm = await FindMax.RunAsync(target, server, o, cts.Token);
            string label = LoadReport.Label(o.Name ?? "find-max", target.Name, fm.BestRate);
            var summary = FindMax.Summary(fm, server, workload);
            summary["generator"] = LoadReport.Describe(threads);
            if (fm.Half is not null) LoadReport.Write(outDir, label, fm.Half, summary);
            else
            {
                Directory.CreateDirectory(outDir);
                File.WriteAllText(Path.Combine(outDir, label + ".json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            Console.WriteLine($"Wrote {Path.Combine(outDir, label)}.*");
            return fm.BestRate > 0 ? 0 : 1;
        }
        var result = await OpenLoopRunner.RunAsync(target, workload, o.Run, cts.Token);
        LoadReport.Print(result, Console.Out);
        var json = LoadReport.Summary(result, server, workload);
        json["generator"] = LoadReport.Describe(threads);
        string stem = LoadReport.Write(outDir, LoadReport.Label(o.Name, target.Name, result.Settings.Rate), result, json);
        Console.WriteLine($"Wrote {stem}.hgrm, .json, .svg");
        // A run where nothing succeeded is a failure (CI smoke relies on this); slow is not.
        return result.Completed > 0 && result.Errors < result.Sent ? 0 : 1;
    }
}

/// <summary>The highest rate whose p99 stays under the target: double until a trial fails, then bisect.</summary>
internal static class FindMax
{
    public sealed record Trial(double Rate, double AchievedRate, double P99Ms, long Errors, bool Passed);

    public sealed class Outcome
    {
        public List<Trial> Trials { get; } = [];
        public double BestRate { get; set; }
        public double P99TargetMs { get; set; }
        public RunResult? Half { get; set; }
    }

    public static async Task<Outcome> RunAsync(ILoadTarget target, string server, LoadOptions o, CancellationToken ct, bool peer = false)
    {
        var workload = o.Workload;
        double targetMs = o.P99Target.TotalMilliseconds;
        var outcome = new Outcome { P99TargetMs = targetMs };
        double rate = o.Run.Rate, failed = double.PositiveInfinity;
        int maxTrials = o.MaxTrials;
        for (int i = 0; i < maxTrials && !ct.IsCancellationRequested; i++)
        {
            var r = await OpenLoopRunner.RunAsync(target, workload, o.At(rate, o.TrialDuration, o.TrialWarmup, peer), ct);
            // Passing needs the rate actually delivered, the p99 under target, and (almost) no errors.
            bool Passed(RunResult x) => x.AchievedRate >= 0.95 * rate && x.P(99) <= targetMs && x.Errors <= x.Sent / 1000 && x.Unfinished == 0;
            bool passed = Passed(r);
            if (!passed && o.RetryFailed)
            {
                // On a shared machine one burst of someone else's work can fail a trial: a failure must repeat.
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"find-max trial {i + 1}: {rate:N0}/s failed (p99 {r.P(99):0.000} ms), trying again"));
                r = await OpenLoopRunner.RunAsync(target, workload, o.At(rate, o.TrialDuration, o.TrialWarmup, peer), ct);
                passed = Passed(r);
            }
            outcome.Trials.Add(new Trial(rate, r.AchievedRate, r.P(99), r.Errors, passed));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"find-max trial {i + 1}: {rate,10:N0}/s  achieved {r.AchievedRate,10:N0}/s  p99 {r.P(99),8:0.000} ms  errors {r.Errors}  {(passed ? "pass" : "FAIL")}"));
            if (passed) outcome.BestRate = Math.Max(outcome.BestRate, rate);
            else failed = Math.Min(failed, rate);
            double next = double.IsPositiveInfinity(failed) ? rate * 2 : outcome.BestRate > 0 ? (outcome.BestRate + failed) / 2 : rate / 2;
            if (!double.IsPositiveInfinity(failed) && outcome.BestRate > 0 && failed / outcome.BestRate < 1.08) break;
            if (next < 1) break;
            rate = Math.Round(next / 10) * 10;
        }
        Console.WriteLine($"find-max: highest rate with p99 <= {targetMs} ms: {outcome.BestRate:N0}/s");
        if (outcome.BestRate > 0)
        {
            outcome.Half = await OpenLoopRunner.RunAsync(target, workload, o.At(outcome.BestRate / 2, peer: peer), ct);
            Console.Write("At half of it: ");
            LoadReport.Print(outcome.Half, Console.Out);
        }
        return outcome;
    }

    public static JsonObject Summary(Outcome o, string server, Workload wl)
    {
        var trials = new JsonArray();
        foreach (var t in o.Trials)
            trials.Add(new JsonObject { ["rate"] = t.Rate, ["achievedRate"] = Math.Round(t.AchievedRate), ["p99Ms"] = double.IsNaN(t.P99Ms) ? null : Math.Round(t.P99Ms, 4), ["errors"] = t.Errors, ["passed"] = t.Passed });
        return new JsonObject
        {
            ["mode"] = "find-max",
            ["server"] = server,
            ["p99TargetMs"] = o.P99TargetMs,
            ["maxRate"] = o.BestRate,
            ["trials"] = trials,
            ["halfRate"] = o.Half is null ? null : LoadReport.Summary(o.Half, server, wl),
        };
    }
}
