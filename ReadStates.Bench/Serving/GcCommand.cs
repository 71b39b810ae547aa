using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;
using ReadStates.Bench.Cli;
using ReadStates.Bench.Load;

namespace ReadStates.Bench.Serving;

/// <summary>
/// The GC story through the service: fill a running service with N read states through the API (bulk acks on
/// the Stream RPC), then hold an open-loop mixed load for minutes, and report per interval the latency
/// (p99, p99.9, max) next to the server's GC pauses read from its runtime events over EventPipe.
/// </summary>
internal static class GcCommand
{
    public static CommandSpec Spec { get; } = new("gc",
        "Fills a service (a child, or --target with --server-pid) with --states read states through the API, then holds\n" +
        "the mixed load for --duration: per interval, latency percentiles and the server's GC pauses (runtime events).",
        [
            new("states", "Read states to fill (users = states / channels)", "10m"),
            new("channels", "States per user", "50"),
            new("rate", "Steady load, requests/s", "5000"),
            new("duration", "Measured time of the steady load", "3m"),
            new("interval", "Reporting interval", "60s"),
            new("warmup", "Steady load before measuring", "15s"),
            new("mix", "Op weights of the steady load", "ack=60,mention=30,get=10"),
            new("fanout", "Users per mention", "5"),
            new("get-channels", "Channels listed per get", "10"),
            new("zipf", "Zipf exponent over the filled users", "0.99"),
            new("connections", "HTTP/2 connections of the steady load (and streams of the fill)", "4"),
            new("min-threads", "Generator thread-pool minimum (auto = max(8, 2 x cores))", "auto"),
            new("target", "A running service (with Service:BenchDiagnostics=true) instead of a child"),
            new("server-pid", "Pid of --target, for its GC events and CPU time", "0"),
            new("cpus", "taskset cpu list for the child service (e.g. 1)"),
            new("server-env", "Environment of the child, NAME=VALUE,..."),
            new("server-settings", "Extra settings of the child, Section:Key=value,..."),
            new("pause-target", "Longest acceptable GC pause", "1ms"),
            new("out", "Directory for the JSON", "bench-results/gc"),
            new("no-progress", "No live progress line", IsFlag: true),
        ],
        RunAsync);

    private static async Task<int> RunAsync(ParsedArgs a)
    {
        long states = a.Long("states");
        int channels = a.Int("channels");
        long users = Math.Max(1, states / Math.Max(1, channels));
        var workload = new Workload(users, channels, a.Double("zipf"), a.RequiredString("mix"), channels, a.Int("fanout"), a.Int("get-channels"));
        var duration = a.Duration("duration");
        var interval = a.Duration("interval");
        if (interval.TotalSeconds < 1 || duration < interval) throw new UsageException("--interval must be at least 1 s and no longer than --duration.");
        double pauseTargetMs = a.Duration("pause-target").TotalMilliseconds;
        int connections = a.Int("connections");
        string minThreads = a.RequiredString("min-threads");
        var threads = ClientThreadPool.Configure(minThreads == "auto" ? ClientThreadPool.AutoMinThreads : a.Int("min-threads"));
        Console.WriteLine(threads);
        var settings = (a.String("server-settings") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Prepend($"Engine:CapacityStates={Math.Max(2_000_000, states + states / 5 + users)}").ToList();

        await using var child = a.String("target") is null
            ? await ServiceChild.StartAsync(a.String("cpus"), settings, AllocCommand.Pairs(a.String("server-env"), '='), TimeSpan.FromSeconds(60)) : null;
        string address = child?.Address ?? a.RequiredString("target");
        int pid = child?.Pid ?? a.Int("server-pid");
        if (pid <= 0) throw new UsageException("--server-pid is needed with --target (the GC events come from that process).");
        LoadTargets.Check(address);
        Console.WriteLine($"gc: service at {address}, pid {pid}, cpus {ClientThreadPool.CpusAllowed(pid)}; filling {users:N0} users x {channels} = {users * channels:N0} states");

        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(address);
        var diag = new ReadStates.Api.Diagnostics.Diagnostics.DiagnosticsClient(channel);
        var fillStarted = DateTime.UtcNow;
        await FillAsync(address, workload, connections);
        var fillTime = DateTime.UtcNow - fillStarted;
        var afterFill = await diag.CountersAsync(new ReadStates.Api.Diagnostics.EmptyMessage());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"filled in {fillTime.TotalSeconds:0.0} s ({users * channels / fillTime.TotalSeconds:N0} states/s); server heap {afterFill.HeapBytes / 1048576.0:N0} MiB, {(afterFill.ServerGc ? "server" : "workstation")} GC, {afterFill.Processors} processor(s)"));

        await using var pauses = new RemoteGcPauses(pid);
        var grpc = new GrpcTarget(address);
        await grpc.ConnectAsync(connections, CancellationToken.None);
        await using var _ = grpc;
        var run = new RunSettings(a.Double("rate"), duration, a.Duration("warmup"), connections, 1, 20_000, TimeSpan.FromSeconds(10), 1, !a.Flag("no-progress"), pid,
            IntervalSeconds: (int)interval.TotalSeconds);
        var measureStart = DateTime.UtcNow + run.Warmup + TimeSpan.FromMilliseconds(50);
        var result = await OpenLoopRunner.RunAsync(grpc, workload, run, CancellationToken.None);
        var end = await diag.CountersAsync(new ReadStates.Api.Diagnostics.EmptyMessage());
        await Task.Delay(500); // the last events
        var all = pauses.Pauses;
        LoadReport.Print(result, Console.Out);

        var rows = new JsonArray();
        var maxes = result.Intervals.Select(h => h.TotalCount == 0 ? double.NaN : h.GetMaxValue() / 1000.0).ToList();
        Console.WriteLine();
        Console.WriteLine("| interval | requests | p50 ms | p99 ms | p99.9 ms | max ms | max / median of the others' max | GCs gen0/1/2 | longest GC pause ms (suspend + collect) | total GC pause ms |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
        double worstRatio = 0, longest = 0;
        for (int i = 0; i < result.Intervals.Count; i++)
        {
            var h = result.Intervals[i];
            if (h.TotalCount == 0) continue;
            var from = measureStart + interval * i;
            var inInterval = all.Where(p => p.At.ToUniversalTime() >= from && p.At.ToUniversalTime() < from + interval).ToList();
            var others = maxes.Where((m, j) => j != i && !double.IsNaN(m)).Order().ToList();
            double ratio = others.Count == 0 ? double.NaN : maxes[i] / others[others.Count / 2];
            if (!double.IsNaN(ratio)) worstRatio = Math.Max(worstRatio, ratio);
            var worst = inInterval.MaxBy(p => p.Ms);
            double maxPause = worst?.Ms ?? 0;
            longest = Math.Max(longest, maxPause);
            string gens = $"{inInterval.Count(p => p.Generation == 0)}/{inInterval.Count(p => p.Generation == 1)}/{inInterval.Count(p => p.Generation == 2)}";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {i + 1} | {h.TotalCount:N0} | {h.GetValueAtPercentile(50) / 1000.0:0.000} | {h.GetValueAtPercentile(99) / 1000.0:0.000} | {h.GetValueAtPercentile(99.9) / 1000.0:0.000} | {maxes[i]:0.000} | {ratio:0.00}x | {gens} | {maxPause:0.000} ({worst?.SuspendMs ?? 0:0.000} + {worst?.GcMs ?? 0:0.000}) | {inInterval.Sum(p => p.Ms):0.000} |"));
            rows.Add(new JsonObject
            {
                ["interval"] = i + 1, ["requests"] = h.TotalCount, ["p50Ms"] = h.GetValueAtPercentile(50) / 1000.0, ["p99Ms"] = h.GetValueAtPercentile(99) / 1000.0,
                ["p999Ms"] = h.GetValueAtPercentile(99.9) / 1000.0, ["maxMs"] = maxes[i], ["maxOverOthersMedian"] = double.IsNaN(ratio) ? null : Math.Round(ratio, 3),
                ["gcs"] = gens, ["longestPauseMs"] = Math.Round(maxPause, 3), ["pauses"] = new JsonArray([.. inInterval.Select(p => (JsonNode)new JsonObject { ["ms"] = Math.Round(p.Ms, 3), ["suspendMs"] = double.IsNaN(p.SuspendMs) ? null : Math.Round(p.SuspendMs, 3), ["gcMs"] = double.IsNaN(p.GcMs) ? null : Math.Round(p.GcMs, 3),
                    ["promotedBytes"] = p.PromotedBytes, ["gcHandles"] = p.GcHandles, ["pinnedObjects"] = p.PinnedObjects, ["markedByRoot"] = new JsonObject([.. p.MarkedByRoot.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)m.Value))]), ["gen"] = p.Generation, ["type"] = p.Type })]),
            });
        }
        bool pausesOk = longest <= pauseTargetMs, minutesOk = worstRatio <= 3;
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"longest GC pause {longest:0.000} ms (target <= {pauseTargetMs} ms): {(pausesOk ? "met" : "MISSED")}; " +
            $"worst interval max / median of the others' max {worstRatio:0.00}x (target <= 3x): {(minutesOk ? "met" : "MISSED")}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"server over the run: {end.Gen0Collections - afterFill.Gen0Collections} gen0, {end.Gen1Collections - afterFill.Gen1Collections} gen1, {end.Gen2Collections - afterFill.Gen2Collections} gen2; " +
            $"{(end.AllocatedBytes - afterFill.AllocatedBytes) / Math.Max(1.0, result.Completed):N0} bytes allocated per request; heap {end.HeapBytes / 1048576.0:N0} MiB"));

        string outDir = a.RequiredString("out");
        Directory.CreateDirectory(outDir);
        string file = Path.Combine(outDir, $"gc-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
        var json = new JsonObject
        {
            ["states"] = users * channels, ["users"] = users, ["fillSeconds"] = Math.Round(fillTime.TotalSeconds, 1), ["rate"] = run.Rate, ["durationSeconds"] = duration.TotalSeconds,
            ["serverGc"] = end.ServerGc, ["processors"] = end.Processors, ["serverCpus"] = ClientThreadPool.CpusAllowed(pid), ["heapBytes"] = end.HeapBytes,
            ["longestPauseMs"] = Math.Round(longest, 3), ["worstIntervalMaxRatio"] = Math.Round(worstRatio, 3), ["pauseTargetMet"] = pausesOk, ["intervalTargetMet"] = minutesOk,
            ["summary"] = LoadReport.Summary(result, "ReadStates", workload), ["intervals"] = rows, ["generator"] = LoadReport.Describe(threads),
        };
        File.WriteAllText(file, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"Wrote {file}");
        return result.Completed > 0 ? 0 : 1;
    }

    /// <summary>Every user's states as one bulk ack each, over streams, as fast as the service takes them.</summary>
    private static async Task FillAsync(string address, Workload workload, int streams)
    {
        await using var target = new GrpcStreamTarget(address, 256);
        await target.ConnectAsync(streams, CancellationToken.None);
        long next = 0;
        ulong message = Workload.NextMessage(255);
        var workers = Enumerable.Range(0, streams * 64).Select(async w =>
        {
            var op = new Op { Kind = OpKind.BulkAck, Message = message, Channels = new ulong[workload.ChannelsPerUser] };
            long rank;
            while ((rank = Interlocked.Increment(ref next)) <= workload.Users)
            {
                op.User = (ulong)rank;
                for (int c = 0; c < op.Channels.Length; c++) op.Channels[c] = workload.ChannelOf(op.User, c);
                await target.ExecuteAsync(w % streams, op, CancellationToken.None);
            }
        }).ToArray();
        await Task.WhenAll(workers);
    }
}
