using BenchmarkDotNet.Running;
using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Micro;

internal static class MicroCommand
{
    public static CommandSpec Spec { get; } = new("micro",
        "BenchmarkDotNet micro benchmarks of the engine against class-per-user baselines (ConcurrentLru, MemoryCache,\n" +
        "ConcurrentDictionary), with [MemoryDiagnoser]; then checks allocation budgets.",
        [
            new("filter", "BenchmarkDotNet glob on Type.Method, e.g. '*AckResident*'", "*"),
            new("job", "quick (CI smoke) | short | medium | default", "short"),
            new("quick", "Shorthand for --job quick", IsFlag: true),
            new("out-of-process", "Run each benchmark in its own generated process (slower to start, better isolated)", IsFlag: true),
            new("artifacts", "Where BenchmarkDotNet writes its reports", "bench-results/micro"),
            new("budgets", "Allocation budgets file", "ReadStates.Bench/allocation-budgets.json"),
            new("check-only", "Do not run: check the budgets against the reports already in --artifacts", IsFlag: true),
            new("no-check", "Run without checking the budgets", IsFlag: true),
            new("list", "List the benchmarks and exit", IsFlag: true),
        ],
        RunAsync,
        "arguments handed to BenchmarkDotNet as they are (e.g. -- --runtimes net10.0)");

    private static Task<int> RunAsync(ParsedArgs a)
    {
        string artifacts = Path.GetFullPath(a.RequiredString("artifacts"));
        string budgetsPath = ResolveBudgets(a.RequiredString("budgets"));
        var switcher = BenchmarkSwitcher.FromAssembly(typeof(MicroCommand).Assembly);
        if (a.Flag("list"))
        {
            switcher.Run(["--list", "flat"], BenchConfig.Create("short", false, artifacts));
            return Task.FromResult(0);
        }
        string resultsDir = Path.Combine(artifacts, "results");
        if (!a.Flag("check-only"))
        {
            // Old reports would be checked with the new ones: start clean.
            if (Directory.Exists(resultsDir)) Directory.Delete(resultsDir, recursive: true);
            string job = a.Flag("quick") ? "quick" : a.RequiredString("job");
            var config = BenchConfig.Create(job, a.Flag("out-of-process"), artifacts);
            string[] bdnArgs = ["--filter", a.RequiredString("filter"), .. a.PassThrough];
            var summaries = switcher.Run(bdnArgs, config).ToList();
            if (summaries.Count == 0)
            {
                Console.Error.WriteLine($"micro: no benchmark matched --filter '{a.RequiredString("filter")}'.");
                return Task.FromResult(1);
            }
            var failed = summaries.SelectMany(s => s.Reports).Where(r => !r.Success).Select(r => r.BenchmarkCase.DisplayInfo).ToList();
            failed.AddRange(summaries.Where(s => s.HasCriticalValidationErrors).Select(s => s.Title + " (validation)"));
            if (failed.Count > 0)
            {
                Console.Error.WriteLine("micro: benchmarks failed: " + string.Join(", ", failed));
                return Task.FromResult(1);
            }
        }
        if (a.Flag("no-check")) return Task.FromResult(0);
        var results = AllocationBudgets.ReadResults(resultsDir);
        if (results.Count == 0)
        {
            Console.Error.WriteLine($"micro: no BenchmarkDotNet JSON reports in {resultsDir}.");
            return Task.FromResult(1);
        }
        Console.WriteLine();
        Console.WriteLine($"Allocation budgets ({budgetsPath}):");
        int over = AllocationBudgets.Check(AllocationBudgets.Load(budgetsPath), results, Console.Out);
        if (over > 0) Console.Error.WriteLine($"micro: {over} benchmark(s) over their allocation budget.");
        return Task.FromResult(over > 0 ? 1 : 0);
    }

    /// <summary>The path as given, else the copy next to the executable.</summary>
    private static string ResolveBudgets(string path)
    {
        if (File.Exists(path)) return Path.GetFullPath(path);
        string beside = Path.Combine(AppContext.BaseDirectory, Path.GetFileName(path));
        if (File.Exists(beside)) return beside;
        throw new UsageException($"--budgets: {path} not found.");
    }
}
