using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;

namespace ReadStates.Bench.Load;

/// <summary>Prints a run and writes its .hgrm, JSON summary and SVG plot.</summary>
internal static class LoadReport
{
    public static readonly double[] Percentiles = [50, 90, 99, 99.9, 99.99];

    private static string Ms(double v) => double.IsNaN(v) ? "-" : v.ToString(v < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture);

    public static void Print(RunResult r, TextWriter w)
    {
        var s = r.Settings;
        w.WriteLine($"{r.Target} at {r.Address}: requested {s.Rate:N0}/s for {s.Duration.TotalSeconds:0} s ({s.Connections} connections, {s.Workers} worker(s)), " +
                    $"achieved {r.AchievedRate:N0}/s, sent {r.Sent:N0}, errors {r.Errors:N0}{(r.Unfinished > 0 ? $", unfinished {r.Unfinished:N0}" : "")}");
        if (r.ErrorKinds.Count > 0) w.WriteLine("  errors by kind: " + string.Join(", ", r.ErrorKinds.Select(kv => $"{kv.Key} {kv.Value:N0}")));
        w.WriteLine("  latency from intended send (ms): " + string.Join("  ", Percentiles.Select(p => $"p{p}={Ms(r.P(p))}")) + $"  max={Ms(r.MaxMs)}");
        if (r.Service.TotalCount > 0)
            w.WriteLine($"  service time from actual send (ms): p50={Ms(r.Service.GetValueAtPercentile(50) / 1000.0)}  p99={Ms(r.Service.GetValueAtPercentile(99) / 1000.0)}" +
                        $"  | generator send lag p99={Ms(r.SendLag.GetValueAtPercentile(99) / 1000.0)} ms");
        foreach (var (name, h) in Ops(r))
            w.WriteLine($"  {name,-14} n={h.TotalCount,-9:N0} p50={Ms(Pct(h, 50))}  p99={Ms(Pct(h, 99))}  p99.9={Ms(Pct(h, 99.9))}  max={Ms(h.GetMaxValue() / 1000.0)} ms");
        if (r.UpdatesInWindow > 0) w.WriteLine($"  read-state updates: {r.UpdatesPerSecond:N0}/s (acks 1 each, bulk acks their entries, mentions their users)");
        w.WriteLine($"  CPU per request (µs): generator {r.GeneratorCpuMicrosPerOp:0.0}" + (double.IsNaN(r.ServerCpuMicrosPerOp) ? " (server: pass --server-pid)" : $", server {r.ServerCpuMicrosPerOp:0.0}"));
    }

    private static double Pct(HistogramBase h, double p) => h.TotalCount == 0 ? double.NaN : h.GetValueAtPercentile(p) / 1000.0;

    /// <summary>The name of an operation kind in reports: "ack", or "stream.ack" when it went as an entry of a Stream call.</summary>
    public static string OpName(OpKind k, Transport t) => t == Transport.Stream ? "stream." + OpKinds.Name(k) : OpKinds.Name(k);

    /// <summary>The operation kinds the run sent, with their latency histograms.</summary>
    public static IEnumerable<(string Name, HistogramBase Histogram)> Ops(RunResult r)
    {
        for (int k = 0; k < r.ByOp.Length; k++)
            if (r.ByOp[k].TotalCount > 0) yield return (OpName((OpKind)k, r.Settings.Transport), r.ByOp[k]);
    }

    public static JsonObject Describe(ClientThreadPool.Setting t) => new()
    {
        ["processors"] = t.Processors,
        ["cpus"] = t.Affinity,
        ["minWorkerThreads"] = t.Worker,
        ["minIoThreads"] = t.Io,
        ["minWorkerThreadsBefore"] = t.WorkerBefore,
    };

    private static JsonObject PercentilesOf(HistogramBase h)
    {
        var o = new JsonObject { ["count"] = h.TotalCount };
        foreach (var p in LoadReport.Percentiles) o[$"p{p.ToString(CultureInfo.InvariantCulture)}"] = Round(Pct(h, p));
        o["max"] = h.TotalCount == 0 ? null : Round(h.GetMaxValue() / 1000.0);
        return o;
    }

    public static JsonObject Summary(RunResult r, string? server, Workload wl)
    {
        var byOp = new JsonObject();
        foreach (var (name, h) in Ops(r)) byOp[name] = PercentilesOf(h);
        var s = r.Settings;
        var lat = new JsonObject();
        foreach (var p in Percentiles) lat[$"p{p.ToString(CultureInfo.InvariantCulture)}"] = Round(r.P(p));
        lat["max"] = Round(r.MaxMs);
        lat["mean"] = r.Latency.TotalCount == 0 ? null : Round(r.Latency.GetMean() / 1000.0);
        return new JsonObject
        {
            ["target"] = r.Target,
            ["address"] = r.Address,
            ["server"] = server,
            ["time"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["processors"] = Environment.ProcessorCount,
            ["requestedRate"] = s.Rate,
            ["achievedRate"] = Round(r.AchievedRate),
            ["durationSeconds"] = s.Duration.TotalSeconds,
            ["warmupSeconds"] = s.Warmup.TotalSeconds,
            ["connections"] = s.Connections,
            ["workers"] = s.Workers,
            ["users"] = wl.Users,
            ["zipf"] = wl.Zipf,
            ["channelsPerUser"] = wl.ChannelsPerUser,
            ["mix"] = wl.Mix,
            ["bulkSize"] = wl.BulkSize,
            ["fanOut"] = wl.FanOut,
            ["getChannels"] = wl.GetChannels,
            ["transport"] = s.Transport.ToString().ToLowerInvariant(),
            ["serverProcess"] = ClientThreadPool.DescribeServer(s.ServerPid),
            ["updatesPerSecond"] = Round(r.UpdatesPerSecond),
            ["sent"] = r.Sent,
            ["completed"] = r.Completed,
            ["errors"] = r.Errors,
            ["errorKinds"] = JsonSerializer.SerializeToNode(r.ErrorKinds),
            ["unfinished"] = r.Unfinished,
            ["generatorCpuMicrosPerOp"] = Round(r.GeneratorCpuMicrosPerOp),
            ["serverCpuMicrosPerOp"] = Round(r.ServerCpuMicrosPerOp),
            ["latencyMs"] = lat,
            ["byOpLatencyMs"] = byOp,
            ["serviceTimeMs"] = r.Service.TotalCount == 0 ? null : new JsonObject
            {
                ["p50"] = Round(r.Service.GetValueAtPercentile(50) / 1000.0),
                ["p99"] = Round(r.Service.GetValueAtPercentile(99) / 1000.0),
                ["max"] = Round(r.Service.GetMaxValue() / 1000.0),
            },
            ["sendLagMs"] = r.SendLag.TotalCount == 0 ? null : new JsonObject
            {
                ["p99"] = Round(r.SendLag.GetValueAtPercentile(99) / 1000.0),
                ["max"] = Round(r.SendLag.GetMaxValue() / 1000.0),
            },
        };
    }

    private static double? Round(double v) => double.IsNaN(v) ? null : Math.Round(v, 4);

    /// <summary>Writes label.hgrm, label.json and label.svg into the directory; returns the paths' common stem.</summary>
    public static string Write(string dir, string label, RunResult r, JsonObject summary, IReadOnlyList<(string, HistogramBase)>? extraSeries = null)
    {
        Directory.CreateDirectory(dir);
        string stem = Path.Combine(dir, label);
        using (var writer = new StreamWriter(stem + ".hgrm"))
            r.Latency.OutputPercentileDistribution(writer, percentileTicksPerHalfDistance: 5, outputValueUnitScalingRatio: 1000.0);
        File.WriteAllText(stem + ".json", summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var series = new List<(string, HistogramBase)> { ($"{r.Target} @ {r.Settings.Rate:N0}/s, all", r.Latency) };
        foreach (var (name, h) in Ops(r)) series.Add(($"  {name}", h));
        if (extraSeries is not null) series.AddRange(extraSeries);
        File.WriteAllText(stem + ".svg", SvgPlot.Render($"{label}: latency by percentile (from intended send)", series));
        return stem;
    }

    public static string Label(string? name, string target, double rate) =>
        (name ?? $"{target}-{rate:0}") + "-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
}
