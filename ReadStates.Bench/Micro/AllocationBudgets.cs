using System.Text.Json;

namespace ReadStates.Bench.Micro;

/// <summary>
/// Allocation budgets: bytes allocated per operation that a benchmark may not exceed, checked against
/// BenchmarkDotNet's JSON reports. Keys are "Type.Method" (every parameter case) or
/// "Type.Method(Param=Value)"; a null budget is reported but not enforced (the baselines).
/// </summary>
internal static class AllocationBudgets
{
    public sealed record Measured(string Key, string Parameters, double BytesPerOp);

    public sealed record Budgets(Dictionary<string, long?> PerBenchmark, long ToleranceBytes);

    public static Budgets Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        var budgets = new Dictionary<string, long?>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.GetProperty("budgets").EnumerateObject())
            budgets[p.Name] = p.Value.ValueKind == JsonValueKind.Null ? null : p.Value.GetInt64();
        long tolerance = doc.RootElement.TryGetProperty("toleranceBytes", out var t) ? t.GetInt64() : 0;
        return new Budgets(budgets, tolerance);
    }

    /// <summary>Every benchmark in the *-report-brief.json files under <paramref name="resultsDir"/>.</summary>
    public static List<Measured> ReadResults(string resultsDir)
    {
        var list = new List<Measured>();
        if (!Directory.Exists(resultsDir)) return list;
        foreach (var file in Directory.GetFiles(resultsDir, "*-report-brief.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var b in doc.RootElement.GetProperty("Benchmarks").EnumerateArray())
            {
                if (!b.TryGetProperty("Memory", out var mem) || !mem.TryGetProperty("BytesAllocatedPerOperation", out var bytes)) continue;
                string key = $"{b.GetProperty("Type").GetString()}.{b.GetProperty("Method").GetString()}";
                string parameters = b.TryGetProperty("Parameters", out var ps) ? ps.GetString() ?? "" : "";
                list.Add(new Measured(key, parameters, bytes.GetDouble()));
            }
        }
        return list;
    }

    /// <summary>Prints one line per benchmark and returns the number over budget.</summary>
    public static int Check(Budgets all, IReadOnlyList<Measured> results, TextWriter w)
    {
        var budgets = all.PerBenchmark;
        int failures = 0;
        w.WriteLine($"{"benchmark",-58} {"B/op",10} {"budget",8}  verdict");
        foreach (var r in results.OrderBy(r => r.Key).ThenBy(r => r.Parameters))
        {
            string name = r.Parameters.Length == 0 ? r.Key : $"{r.Key}({r.Parameters})";
            bool found = budgets.TryGetValue(name, out long? budget) || budgets.TryGetValue(r.Key, out budget);
            string verdict;
            if (!found) verdict = "no budget";
            else if (budget is null) verdict = "report only";
            else if (r.BytesPerOp <= budget.Value + all.ToleranceBytes) verdict = "ok";
            else { verdict = "OVER BUDGET"; failures++; }
            w.WriteLine($"{name,-58} {r.BytesPerOp,10:0.#} {(budget?.ToString() ?? "-"),8}  {verdict}");
        }
        return failures;
    }
}
