using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using HdrHistogram;
using ReadStates.Bench.Cli;
using ReadStates.Bench.Load;

namespace ReadStates.Bench.Watch;

/// <summary>
/// Watch at scale: subscribes many users over a few streams, then runs the standard mixed load and measures,
/// for every applied ack, the time from its reply reaching the generator to the Watch event that covers its
/// version. <c>--memory</c> instead hosts the service in this process and measures the managed heap a
/// subscription costs.
/// </summary>
internal static class WatchCommand
{
    public static CommandSpec Spec { get; } = new("watch",
        "Subscribes --subscribers users over --streams Watch streams, runs the open-loop load (ack/mention/get, Zipf)\n" +
        "and reports the ack -> Watch delivery latency (p50..max), events, resyncs; with --server-pid the server's RSS\n" +
        "per subscription. --memory: host the service in-process and measure managed bytes per subscription.",
        [
            new("target", "http://127.0.0.1:5000 (ReadStates gRPC, h2c)", "http://127.0.0.1:5000"),
            new("streams", "Watch streams (each on its own HTTP/2 connection)", "4"),
            new("subscribers", "Users subscribed: ids 1..N, spread over the streams (k/m suffixes)", "100k"),
            new("memory", "Measure bytes per subscription in-process (starts its own service; no load)", IsFlag: true),
            .. LoadCommand.Common.Select(o => o.Name switch
            {
                "users" => o with { Default = "20000" },
                "mix" => o with { Default = "ack=60,mention=30,get=10" },
                "rate" => o with { Default = "2000" },
                "duration" => o with { Default = "30s" },
                "out" => o with { Default = "bench-results/watch" },
                _ => o,
            }),
        ],
        RunAsync);

    private static async Task<int> RunAsync(ParsedArgs a)
    {
        if (a.Flag("memory")) return await WatchMemory.RunAsync(a);
        string address = a.RequiredString("target");
        LoadTargets.RequireLoopback(address);
        long subscribers = a.Long("subscribers");
        int streamCount = a.Int("streams");
        var options = LoadOptions.Parse(a);
        if (options.Transport != Transport.Unary) throw new UsageException("watch drives its load with unary calls (--transport unary).");
        var workload = options.Workload;
        LoadCommand.PrepareGenerator(options);
        if (workload.Users > subscribers) throw new UsageException("--users must not exceed --subscribers: every loaded user is watched.");
        int serverPid = a.Int("server-pid");
        string loadBefore = LoadAvg();

        var tracker = new DeliveryTracker();
        long rssBefore = Rss(serverPid);
        var subscribe = Stopwatch.StartNew();
        await using var streams = new WatchStreams(address, streamCount, subscribers, tracker);
        await streams.SubscribeAsync(subscribers);
        if (!await streams.WaitForConfirmationsAsync(subscribers, TimeSpan.FromMinutes(5)))
        {
            Console.Error.WriteLine($"watch: only {streams.Confirmations:N0} of {subscribers:N0} subscriptions confirmed in 5 minutes");
            return 1;
        }
        subscribe.Stop();
        await Task.Delay(1000);
        long rssAfter = Rss(serverPid);
        Console.WriteLine($"subscribed {subscribers:N0} users over {streamCount} streams in {subscribe.Elapsed.TotalSeconds:0.0} s" +
            (serverPid > 0 ? $"; server RSS +{(rssAfter - rssBefore) / 1048576.0:0.0} MiB = {(double)(rssAfter - rssBefore) / subscribers:0} B per subscription" : ""));

        var target = new WatchLoadTarget(address, tracker);
        await target.ConnectAsync(a.Int("connections"), CancellationToken.None);
        await using var _ = target;
        var settings = options.Run;
        // The runner starts 50 ms after the call; acks replied after the warm-up are measured.
        var measure = Task.Delay(settings.Warmup + TimeSpan.FromMilliseconds(50)).ContinueWith(_ => tracker.MeasureFrom(Stopwatch.GetTimestamp()), TaskScheduler.Default);
        var result = await OpenLoopRunner.RunAsync(target, workload, settings, CancellationToken.None);
        await measure;
        var drain = Stopwatch.StartNew();
        while (tracker.Pending > 0 && drain.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(50);
        var delivery = tracker.Snapshot();
        var fromSend = tracker.SnapshotFromSend();
        string loadAfter = LoadAvg();

        LoadReport.Print(result, Console.Out);
        Console.WriteLine($"ack reply -> watch delivery (ms), {delivery.TotalCount:N0} acks: " + string.Join("  ",
            LoadReport.Percentiles.Select(p => $"p{p.ToString(CultureInfo.InvariantCulture)}={Ms(delivery, p)}")) + $"  max={delivery.GetMaxValue() / 1000.0:0.000}");
        Console.WriteLine($"ack sent -> watch delivery (ms), {fromSend.TotalCount:N0} acks: " + string.Join("  ",
            LoadReport.Percentiles.Select(p => $"p{p.ToString(CultureInfo.InvariantCulture)}={Ms(fromSend, p)}")) + $"  max={fromSend.GetMaxValue() / 1000.0:0.000}");
        Console.WriteLine($"  events {tracker.Events:N0}, resyncs {tracker.Resyncs:N0}, delivered before the ack reply {tracker.DeliveredBeforeAck:N0}, never delivered {tracker.Pending:N0}");
        Console.WriteLine($"  /proc/loadavg before: {loadBefore}  after: {loadAfter}");

        string outDir = a.RequiredString("out");
        Directory.CreateDirectory(outDir);
        string stem = Path.Combine(outDir, LoadReport.Label(a.String("name") ?? "watch", "readstates", settings.Rate));
        var summary = LoadReport.Summary(result, "ReadStates", workload);
        summary["mode"] = "watch";
        summary["streams"] = streamCount;
        summary["subscribers"] = subscribers;
        summary["subscribeSeconds"] = Math.Round(subscribe.Elapsed.TotalSeconds, 2);
        summary["serverRssBytesPerSubscription"] = serverPid > 0 ? Math.Round((double)(rssAfter - rssBefore) / subscribers) : null;
        summary["deliveryMs"] = Percentiles(delivery);
        summary["deliveryFromSendMs"] = Percentiles(fromSend);
        summary["deliveredBeforeAckReply"] = tracker.DeliveredBeforeAck;
        summary["deliveredAcks"] = delivery.TotalCount;
        summary["events"] = tracker.Events;
        summary["resyncs"] = tracker.Resyncs;
        summary["neverDelivered"] = tracker.Pending;
        summary["loadavgBefore"] = loadBefore;
        summary["loadavgAfter"] = loadAfter;
        await File.WriteAllTextAsync(stem + ".json", summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        using (var w = new StreamWriter(stem + "-delivery.hgrm"))
            delivery.OutputPercentileDistribution(w, percentileTicksPerHalfDistance: 5, outputValueUnitScalingRatio: 1000.0);
        Console.WriteLine($"Wrote {stem}.json, {stem}-delivery.hgrm");
        return result.Completed > 0 && delivery.TotalCount > 0 && tracker.Pending == 0 ? 0 : 1;
    }

    private static string Ms(HistogramBase h, double p) => h.TotalCount == 0 ? "-" : (h.GetValueAtPercentile(p) / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);

    private static JsonObject Percentiles(HistogramBase h)
    {
        var o = new JsonObject();
        if (h.TotalCount == 0) return o;
        foreach (var p in LoadReport.Percentiles) o[$"p{p.ToString(CultureInfo.InvariantCulture)}"] = Math.Round(h.GetValueAtPercentile(p) / 1000.0, 4);
        o["max"] = Math.Round(h.GetMaxValue() / 1000.0, 4);
        return o;
    }

    public static string LoadAvg()
    {
        try { return File.ReadAllText("/proc/loadavg").Trim(); }
        catch (IOException) { return "?"; }
    }

    /// <summary>Resident set size of a process from /proc, bytes; 0 when unknown.</summary>
    public static long Rss(int pid)
    {
        if (pid <= 0) return 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return 0;
    }
}
