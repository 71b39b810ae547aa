using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Memory;

/// <summary>
/// Footprint and GC: each implementation runs in its own child process (same binary, same GC settings),
/// so neither inherits the other's heap; the parent collects the results and prints medians and ratios.
/// </summary>
internal static class MemoryCommand
{
    public static CommandSpec Spec { get; } = new("memory",
        "Fills the engine with N read states, then runs a timed ack/mention/get loop; reports bytes per state\n" +
        "(managed heap and RSS), GC count and pauses, against a class-per-state baseline at the same N.",
        [
            new("states", "Read states to hold (k/m suffixes)", "10m"),
            new("channels", "Read states per user", "50"),
            new("duration", "Timed operation loop after the fill", "20s"),
            new("threads", "Threads running the loop", "2"),
            new("runs", "Runs per implementation (medians reported)", "1"),
            new("impl", "engine | classes | both", "both"),
            new("out", "Directory for the JSON summary", "bench-results/memory"),
            new("child", "Internal: run one implementation in this process and print its result", IsFlag: true),
            new("seed", "Random seed of the loop", "42"),
        ],
        RunAsync);

    private static async Task<int> RunAsync(ParsedArgs a)
    {
        if (a.Flag("child")) return await MemoryRun.RunChildAsync(a);
        string impl = a.RequiredString("impl");
        string[] impls = impl switch
        {
            "both" => ["engine", "classes"],
            "engine" or "classes" => [impl],
            _ => throw new UsageException($"--impl must be engine, classes or both; got '{impl}'."),
        };
        int runs = a.Int("runs");
        var results = new List<MemoryResult>();
        for (int run = 1; run <= runs; run++)
        {
            foreach (var name in impls)
            {
                Console.Error.WriteLine($"memory: run {run}/{runs}, {name}, {a.Long("states"):N0} states");
                var r = await RunChildProcessAsync(a, name);
                if (r is null) return 1;
                results.Add(r);
                Console.Error.WriteLine($"memory:   {Describe(r)}");
            }
        }
        Report(results, impls, Console.Out);
        string outDir = a.RequiredString("out");
        Directory.CreateDirectory(outDir);
        string file = Path.Combine(outDir, $"memory-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(results, MemoryResult.JsonOptions));
        Console.WriteLine($"Wrote {file}");
        return 0;
    }

    private static async Task<MemoryResult?> RunChildProcessAsync(ParsedArgs a, string impl)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        string? dll = typeof(MemoryCommand).Assembly.Location;
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" && dll is not null) psi.ArgumentList.Add(dll);
        foreach (var s in (string[])["memory", "--child", "--impl", impl, "--states", a.RequiredString("states"), "--channels", a.RequiredString("channels"),
                     "--duration", a.RequiredString("duration"), "--threads", a.RequiredString("threads"), "--seed", a.RequiredString("seed")])
            psi.ArgumentList.Add(s);
        using var p = Process.Start(psi)!;
        string output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (p.ExitCode != 0 || line is null)
        {
            Console.Error.WriteLine($"memory: the {impl} child failed (exit {p.ExitCode}).");
            return null;
        }
        return JsonSerializer.Deserialize<MemoryResult>(line["RESULT ".Length..], MemoryResult.JsonOptions);
    }

    internal static string Describe(MemoryResult r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.HeapBytesPerState:0.0} B/state heap, {r.RssBytesPerState:0.0} B/state RSS, fill {r.FillSeconds:0.0} s, full GC {r.FullGcMs:0.0} ms, " +
        $"loop {r.OpsPerSecond / 1e6:0.00} M ops/s, GCs {r.Gen0}/{r.Gen1}/{r.Gen2}, max pause {r.MaxPauseMs:0.00} ms");

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static void Report(List<MemoryResult> results, string[] impls, TextWriter w)
    {
        var rows = new (string Label, Func<MemoryResult, double> Get, string Format)[]
        {
            ("bytes/state, managed heap", r => r.HeapBytesPerState, "0.0"),
            ("bytes/state, process RSS", r => r.RssBytesPerState, "0.0"),
            ("fill time (s)", r => r.FillSeconds, "0.00"),
            ("forced full blocking GC (ms)", r => r.FullGcMs, "0.0"),
            ("loop throughput (M ops/s)", r => r.OpsPerSecond / 1e6, "0.00"),
            ("loop allocated (MB)", r => r.LoopAllocatedBytes / 1e6, "0.0"),
            ("loop GCs gen0", r => r.Gen0, "0"),
            ("loop GCs gen1", r => r.Gen1, "0"),
            ("loop GCs gen2", r => r.Gen2, "0"),
            ("loop GC pauses (events)", r => r.Pauses, "0"),
            ("loop longest pause (ms, events)", r => r.MaxPauseMs, "0.00"),
            ("loop longest pause (ms, GCMemoryInfo)", r => r.MaxPauseInfoMs, "0.00"),
            ("loop total pause (ms, GetTotalPauseDuration)", r => r.TotalPauseMs, "0.00"),
            ("loop non-GC suspensions (rejit etc.)", r => r.OtherSuspensions, "0"),
            ("loop longest non-GC suspension (ms)", r => r.OtherSuspensionMaxMs, "0.00"),
        };
        int runs = results.Count(r => r.Impl == impls[0]);
        w.WriteLine();
        w.WriteLine($"memory: {results[0].States:N0} states ({results[0].Users:N0} users × {results[0].States / Math.Max(1, results[0].Users)}), medians of {runs} run(s), each implementation in its own process");
        w.Write($"| {"metric",-46} |");
        foreach (var i in impls) w.Write($" {i,12} |");
        if (impls.Length == 2) w.Write($" {"classes/engine",14} |");
        w.WriteLine();
        w.WriteLine("|" + new string('-', 48) + "|" + string.Concat(impls.Select(_ => new string('-', 13) + ":|")) + (impls.Length == 2 ? new string('-', 15) + ":|" : ""));
        foreach (var (label, get, fmt) in rows)
        {
            w.Write($"| {label,-46} |");
            var medians = impls.Select(i => Median(results.Where(r => r.Impl == i).Select(get))).ToArray();
            foreach (var m in medians) w.Write($" {m.ToString(fmt, CultureInfo.InvariantCulture),12} |");
            if (impls.Length == 2)
            {
                string ratio = medians[0] == 0 ? "n/a" : (medians[1] / medians[0]).ToString("0.00", CultureInfo.InvariantCulture) + "x";
                w.Write($" {ratio,14} |");
            }
            w.WriteLine();
        }
    }
}
