using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;
using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Load;

/// <summary>ReadStates and a Redis-protocol peer, back to back at the same rates and settings; prints ratios.</summary>
internal static class CompareCommand
{
    public static CommandSpec Spec { get; } = new("compare",
        "Runs the same open-loop workload against ReadStates and a Redis-protocol peer (Garnet or Redis running the Lua\n" +
        "equivalents) back to back at each rate, and prints peer/ReadStates ratios. --find-max compares the highest\n" +
        "rates whose p99 stays under --p99-target.",
        [
            new("target", "ReadStates gRPC address", "http://127.0.0.1:5000"),
            new("peer", "Redis-protocol peer", "redis://127.0.0.1:6379"),
            new("rates", "Comma-separated rates to run both at", "2000,5000,10000"),
            new("find-max", "Compare the highest rates with p99 under --p99-target instead", IsFlag: true),
            new("peer-pid", "Pid of the peer server, to report its CPU time per request", "0"),
            .. LoadCommand.Common,
        ],
        RunAsync);

    private static string Ms(double v) => double.IsNaN(v) ? "-" : v.ToString("0.000", CultureInfo.InvariantCulture);
    private static string Cpu(double v) => double.IsNaN(v) ? "-" : v.ToString("0.0", CultureInfo.InvariantCulture);
    private static string Ratio(double peer, double ours) => double.IsNaN(peer) || double.IsNaN(ours) || ours == 0 ? "-" : (peer / ours).ToString("0.00", CultureInfo.InvariantCulture) + "x";

    private static async Task<int> RunAsync(ParsedArgs a)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        var o = LoadOptions.Parse(a);
        var rates = a.Doubles("rates");
        var workload = o.Workload;
        var threads = LoadCommand.PrepareGenerator(o);
        var (ours, ourServer) = await LoadCommand.ConnectAsync(a.RequiredString("target"), o, cts.Token);
        await using var _1 = ours;
        var (peer, peerServer) = await LoadCommand.ConnectAsync(a.RequiredString("peer"), o, cts.Token);
        await using var _2 = peer;
        string outDir = o.OutDir;
        string label = LoadReport.Label(o.Name ?? "compare", "both", 0);
        Directory.CreateDirectory(outDir);
        var json = new JsonObject
        {
            ["readstates"] = ourServer, ["peer"] = peerServer, ["mix"] = workload.Mix, ["connections"] = o.Run.Connections,
            ["transport"] = o.Transport.ToString().ToLowerInvariant(), ["generator"] = LoadReport.Describe(threads),
            ["readstatesProcess"] = ClientThreadPool.DescribeServer(o.Run.ServerPid), ["peerProcess"] = ClientThreadPool.DescribeServer(o.PeerPid),
        };

        if (o.FindMax)
        {
            Console.WriteLine($"== {ourServer}");
            var fo = await FindMax.RunAsync(ours, ourServer, o, cts.Token);
            Console.WriteLine($"== {peerServer}");
            var fp = await FindMax.RunAsync(peer, peerServer, o, cts.Token, peer: true);
            Console.WriteLine();
            Console.WriteLine($"| p99 target {a.RequiredString("p99-target")} | max rate | p99 at half (ms) |");
            Console.WriteLine("|---|---:|---:|");
            Console.WriteLine($"| ReadStates | {fo.BestRate:N0}/s | {Ms(fo.Half?.P(99) ?? double.NaN)} |");
            Console.WriteLine($"| {peerServer} (Lua) | {fp.BestRate:N0}/s | {Ms(fp.Half?.P(99) ?? double.NaN)} |");
            Console.WriteLine($"| ReadStates / peer | {Ratio(fo.BestRate, fp.BestRate)} | |");
            json["findMax"] = new JsonObject { ["readstates"] = FindMax.Summary(fo, ourServer, workload), ["peer"] = FindMax.Summary(fp, peerServer, workload) };
            File.WriteAllText(Path.Combine(outDir, label + ".json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"Wrote {Path.Combine(outDir, label)}.json");
            return fo.BestRate > 0 && fp.BestRate > 0 ? 0 : 1;
        }

        var rows = new JsonArray();
        var series = new List<(string, HistogramBase)>();
        var opSeries = new List<(string, HistogramBase)>();
        var table = new List<string>
        {
            "| rate | target | achieved | p50 | p90 | p99 | p99.9 | p99.99 | max | errors | server CPU µs/req | generator CPU µs/req |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        };
        var perOp = new List<string> { "| rate | target | op | count | p50 | p99 | p99.9 | max |", "|---:|---|---|---:|---:|---:|---:|---:|" };
        var ratios = new List<string> { "| rate | p50 peer/ours | p99 peer/ours | p99.9 peer/ours | max peer/ours | achieved ours/peer |", "|---:|---:|---:|---:|---:|---:|" };
        bool allOk = true;
        foreach (double rate in rates)
        {
            var results = new List<RunResult>();
            foreach (var (t, server) in new[] { (ours, ourServer), (peer, peerServer) })
            {
                Console.Error.WriteLine($"compare: {server} at {rate:N0}/s");
                var r = await OpenLoopRunner.RunAsync(t, workload, o.At(rate, peer: t != ours), cts.Token);
                LoadReport.Print(r, Console.Out);
                results.Add(r);
                allOk &= r.Completed > 0;
                series.Add(($"{(t == ours ? "ReadStates" : server)} @ {rate:N0}/s", r.Latency));
                table.Add($"| {rate:N0} | {(t == ours ? "ReadStates" : server + " Lua")} | {r.AchievedRate:N0} | {Ms(r.P(50))} | {Ms(r.P(90))} | {Ms(r.P(99))} | {Ms(r.P(99.9))} | {Ms(r.P(99.99))} | {Ms(r.MaxMs)} | {r.Errors:N0} | {Cpu(r.ServerCpuMicrosPerOp)} | {Cpu(r.GeneratorCpuMicrosPerOp)} |");
                rows.Add(LoadReport.Summary(r, server, workload));
                foreach (var (op, h) in LoadReport.Ops(r))
                {
                    perOp.Add($"| {rate:N0} | {(t == ours ? "ReadStates" : server + " Lua")} | {op} | {h.TotalCount:N0} | {Ms(h.GetValueAtPercentile(50) / 1000.0)} | {Ms(h.GetValueAtPercentile(99) / 1000.0)} | {Ms(h.GetValueAtPercentile(99.9) / 1000.0)} | {Ms(h.GetMaxValue() / 1000.0)} |");
                    opSeries.Add(($"{(t == ours ? "ReadStates" : server)} {op} @ {rate:N0}/s", h));
                }
                using var w = new StreamWriter(Path.Combine(outDir, $"{label}-{(t == ours ? "readstates" : "peer")}-{rate:0}.hgrm"));
                r.Latency.OutputPercentileDistribution(w, percentileTicksPerHalfDistance: 5, outputValueUnitScalingRatio: 1000.0);
            }
            var (us, p) = (results[0], results[1]);
            ratios.Add($"| {rate:N0} | {Ratio(p.P(50), us.P(50))} | {Ratio(p.P(99), us.P(99))} | {Ratio(p.P(99.9), us.P(99.9))} | {Ratio(p.MaxMs, us.MaxMs)} | {Ratio(us.AchievedRate, p.AchievedRate)} |");
        }
        Console.WriteLine();
        foreach (var line in table) Console.WriteLine(line);
        Console.WriteLine();
        foreach (var line in ratios) Console.WriteLine(line);
        Console.WriteLine();
        foreach (var line in perOp) Console.WriteLine(line);
        json["runs"] = rows;
        File.WriteAllText(Path.Combine(outDir, label + ".json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(outDir, label + ".svg"), SvgPlot.Render($"ReadStates vs {peerServer} (Lua): latency by percentile", series));
        File.WriteAllText(Path.Combine(outDir, label + "-by-op.svg"), SvgPlot.Render($"ReadStates vs {peerServer} (Lua): latency by percentile, per operation", opSeries));
        Console.WriteLine($"Wrote {Path.Combine(outDir, label)}.json, .svg, -by-op.svg, *.hgrm");
        return allOk ? 0 : 1;
    }
}
