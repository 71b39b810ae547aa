using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Net.Client;
using ReadStates.Api.Diagnostics;
using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Serving;

/// <summary>
/// Bytes the server allocates per request, for each operation, through the real Kestrel host: the service
/// runs in its own process (so the client's allocations do not count), the bench reads the server's
/// <c>GC.GetTotalAllocatedBytes</c> over the internal diagnostics service before and after N requests of one
/// kind, and compares with an empty unary method on the same host (the floor). Budgets are checked.
/// </summary>
internal static class AllocCommand
{
    public static CommandSpec Spec { get; } = new("alloc",
        "Bytes allocated by the server per request, per operation, through the real Kestrel host (the service in a\n" +
        "child process with Service:BenchDiagnostics), next to an empty unary method as the floor; checks budgets.",
        [
            new("requests", "Measured requests per operation and round", "4000"),
            new("warmup", "Requests per operation before measuring (tiering, pools)", "4000"),
            new("rounds", "Rounds; the median is reported and checked", "3"),
            new("users", "Resident users the operations touch (each with --channels states)", "1000"),
            new("channels", "States per user", "50"),
            new("ops", "Operations to measure (comma-separated): " + string.Join(", ", AllocOps.Names), string.Join(",", AllocOps.Names)),
            new("target", "A running service with Service:BenchDiagnostics=true instead of a child (http://127.0.0.1:port)"),
            new("cpus", "taskset cpu list for the child service (e.g. 1)"),
            new("server-env", "Environment of the child, NAME=VALUE,NAME=VALUE (runtime knobs, e.g. DOTNET_GCgen0size=0x4000000)"),
            new("server-settings", "Extra settings of the child, Section:Key=value,Section:Key=value"),
            new("budgets", "Allocation budgets file", "ReadStates.Bench/service-allocation-budgets.json"),
            new("no-check", "Measure only", IsFlag: true),
            new("out", "Directory for the JSON", "bench-results/alloc"),
        ],
        RunAsync);

    private static async Task<int> RunAsync(ParsedArgs a)
    {
        int requests = a.Int("requests"), warmup = a.Int("warmup"), rounds = a.Int("rounds"), users = a.Int("users"), channels = a.Int("channels");
        if (requests < 1 || rounds < 1 || users < 1 || channels < 10) throw new UsageException("--requests, --rounds and --users must be positive, --channels at least 10.");
        var ops = a.RequiredString("ops").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var op in ops)
            if (!AllocOps.Names.Contains(op)) throw new UsageException($"--ops: unknown operation '{op}' ({string.Join(", ", AllocOps.Names)}).");
        string? budgetsPath = a.Flag("no-check") ? null : Budgets.Resolve(a.RequiredString("budgets"));
        var env = Pairs(a.String("server-env"), '=').ToList();
        var settings = (a.String("server-settings") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            // No write-behind during the windows: a flush's own allocations are not a request's.
            .Prepend("Engine:FlushInterval=00:05:00").ToList();

        await using var child = a.String("target") is null
            ? await ServiceChild.StartAsync(a.String("cpus"), settings, env, TimeSpan.FromSeconds(60)) : null;
        string address = child?.Address ?? a.RequiredString("target");
        Load.LoadTargets.Check(address);
        using var channel = GrpcChannel.ForAddress(address);
        var diag = new ReadStates.Api.Diagnostics.Diagnostics.DiagnosticsClient(channel);
        var runner = new AllocOps(channel, users, channels);
        Console.WriteLine($"alloc: service at {address}{(child is null ? "" : $" (child pid {child.Pid}, cpus {Load.ClientThreadPool.CpusAllowed(child.Pid)})")}; filling {users:N0} users x {channels} states");
        await runner.FillAsync();
        var first = await diag.CountersAsync(new EmptyMessage());
        Console.WriteLine($"server: {first.Processors} processor(s), {(first.ServerGc ? "server" : "workstation")} GC, concurrent {first.ConcurrentGc}, latency mode {first.LatencyMode}");

        var measured = new Dictionary<string, List<double>>();
        foreach (var op in ops) measured[op] = [];
        for (int round = 0; round < rounds; round++)
        {
            foreach (var op in ops)
            {
                await runner.RunAsync(op, warmup);
                // What one Counters call itself allocates on the server, measured just before the window.
                var c0 = await diag.CountersAsync(new EmptyMessage());
                var c1 = await diag.CountersAsync(new EmptyMessage());
                await runner.RunAsync(op, requests);
                var c2 = await diag.CountersAsync(new EmptyMessage());
                long probe = c1.AllocatedBytes - c0.AllocatedBytes;
                measured[op].Add(Math.Max(0, c2.AllocatedBytes - c1.AllocatedBytes - probe) / (double)requests);
            }
        }

        double floor = measured.TryGetValue("empty", out var e) ? Median(e) : double.NaN;
        var budgets = budgetsPath is null ? null : Budgets.Load(budgetsPath);
        int over = 0;
        var rows = new JsonObject();
        Console.WriteLine();
        Console.WriteLine($"| op | bytes/request (median of {rounds}) | runs | above the empty method | budget | verdict |");
        Console.WriteLine("|---|---:|---|---:|---:|---|");
        foreach (var op in ops)
        {
            double m = Median(measured[op]);
            long? budget = budgets?.PerOp.GetValueOrDefault(op);
            string verdict = budgets is null ? "-" : budget is null ? "no budget" : m <= budget + budgets.ToleranceBytes ? "ok" : "OVER BUDGET";
            if (verdict == "OVER BUDGET") over++;
            string runs = string.Join(" / ", measured[op].Select(v => v.ToString("0", CultureInfo.InvariantCulture)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {op} | {m:0} | {runs} | {(double.IsNaN(floor) ? "-" : (m - floor).ToString("0", CultureInfo.InvariantCulture))} | {budget?.ToString(CultureInfo.InvariantCulture) ?? "-"} | {verdict} |"));
            rows[op] = new JsonObject { ["bytesPerRequest"] = Math.Round(m, 1), ["runs"] = new JsonArray([.. measured[op].Select(v => (JsonNode)Math.Round(v, 1))]), ["budget"] = budget };
        }
        string outDir = a.RequiredString("out");
        Directory.CreateDirectory(outDir);
        string file = Path.Combine(outDir, $"alloc-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
        var json = new JsonObject
        {
            ["requests"] = requests, ["rounds"] = rounds, ["users"] = users, ["channels"] = channels,
            ["serverGc"] = first.ServerGc, ["processors"] = first.Processors, ["serverEnv"] = a.String("server-env"), ["ops"] = rows,
        };
        File.WriteAllText(file, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"Wrote {file}");
        if (over > 0) Console.Error.WriteLine($"alloc: {over} operation(s) over their allocation budget ({budgetsPath}).");
        return over > 0 ? 1 : 0;
    }

    private static double Median(List<double> v)
    {
        var s = v.Order().ToList();
        return s.Count == 0 ? double.NaN : s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    internal static IEnumerable<(string, string)> Pairs(string? text, char separator)
    {
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int at = part.IndexOf(separator, StringComparison.Ordinal);
            if (at <= 0) throw new UsageException($"'{part}' is not NAME{separator}VALUE.");
            yield return (part[..at], part[(at + 1)..]);
        }
    }

    /// <summary>Per-operation budgets in bytes per request (null = reported only), with a tolerance.</summary>
    internal sealed record Budgets(Dictionary<string, long?> PerOp, long ToleranceBytes)
    {
        public static Budgets Load(string path)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
            var map = new Dictionary<string, long?>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.GetProperty("budgets").EnumerateObject())
                map[p.Name] = p.Value.ValueKind == JsonValueKind.Null ? null : p.Value.GetInt64();
            return new Budgets(map, doc.RootElement.TryGetProperty("toleranceBytes", out var t) ? t.GetInt64() : 0);
        }

        public static string Resolve(string path)
        {
            if (File.Exists(path)) return Path.GetFullPath(path);
            string beside = Path.Combine(AppContext.BaseDirectory, Path.GetFileName(path));
            return File.Exists(beside) ? beside : throw new UsageException($"--budgets: {path} not found.");
        }
    }
}
