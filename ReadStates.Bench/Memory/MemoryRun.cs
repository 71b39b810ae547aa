using System.Diagnostics;
using System.Text.Json;
using ReadStates.Bench.Cli;
using ReadStates.Core;

namespace ReadStates.Bench.Memory;

internal sealed class MemoryResult
{
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public string Impl { get; set; } = "";
    public long States { get; set; }
    public long Users { get; set; }
    public bool ServerGc { get; set; }
    public double FillSeconds { get; set; }
    public long HeapBytes { get; set; }
    public long RssBytes { get; set; }
    public double HeapBytesPerState { get; set; }
    public double RssBytesPerState { get; set; }
    public double FullGcMs { get; set; }
    public double LoopSeconds { get; set; }
    public long Ops { get; set; }
    public double OpsPerSecond { get; set; }
    public long LoopAllocatedBytes { get; set; }
    public int Gen0 { get; set; }
    public int Gen1 { get; set; }
    public int Gen2 { get; set; }
    public int Pauses { get; set; }
    public double MaxPauseMs { get; set; }
    public double P99PauseMs { get; set; }
    public double MaxPauseInfoMs { get; set; }
    public double TotalPauseMs { get; set; }
    public int OtherSuspensions { get; set; }
    public double OtherSuspensionMaxMs { get; set; }
    public long HeapBytesAfterLoop { get; set; }
    public long RssBytesAfterLoop { get; set; }
}

/// <summary>One implementation, in this process: fill, measure, loop, measure.</summary>
internal static class MemoryRun
{
    public static async Task<int> RunChildAsync(ParsedArgs a)
    {
        long states = a.Long("states");
        int channels = a.Int("channels");
        if (channels < 1 || states < channels) throw new UsageException("--states must be at least --channels, which must be positive.");
        long users = states / channels;
        var duration = a.Duration("duration");
        int threads = Math.Max(1, a.Int("threads"));
        int seed = a.Int("seed");

        using var listener = new GcPauseListener();
        using var poller = new GcInfoPoller();
        var (heap0, rss0) = Measure();

        await using IPopulation pop = a.RequiredString("impl") == "engine" ? new EnginePopulation(states, channels) : new ClassesPopulation();
        var fill = Stopwatch.StartNew();
        var commands = new AckCommand[channels];
        var results = new AckResult[channels];
        for (ulong u = 1; u <= (ulong)users; u++)
        {
            for (int c = 0; c < channels; c++)
                commands[c] = new AckCommand
                {
                    ChannelId = ChannelOf(u, c),
                    MessageId = 1_000_000 + u,
                    Attributes = new StateAttributes { ParentId = 1 + (ulong)(c % 8) },
                };
            pop.Fill(u, commands, results);
            if (u % 1_000_000 == 0) Console.Error.WriteLine($"  {pop.Name}: {u * (ulong)channels:N0} states filled");
        }
        fill.Stop();

        var gc = Stopwatch.StartNew();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        gc.Stop();
        var (heap1, rss1) = Measure();
        var r = new MemoryResult
        {
            Impl = pop.Name,
            States = users * channels,
            Users = users,
            ServerGc = System.Runtime.GCSettings.IsServerGC,
            FillSeconds = fill.Elapsed.TotalSeconds,
            HeapBytes = heap1 - heap0,
            RssBytes = rss1 - rss0,
            FullGcMs = gc.Elapsed.TotalMilliseconds,
        };
        r.HeapBytesPerState = (double)r.HeapBytes / r.States;
        r.RssBytesPerState = (double)r.RssBytes / r.States;

        // The timed loop: GC figures count from here.
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        var pause0 = GC.GetTotalPauseDuration();
        long alloc0 = GC.GetTotalAllocatedBytes(precise: false);
        listener.Reset();
        poller.Reset();
        long ops = 0;
        var loop = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
        {
            long n = Worker(pop, users, channels, seed + t, (byte)t, duration);
            Interlocked.Add(ref ops, n);
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(workers);
        loop.Stop();
        await Task.Delay(50); // let the last GC events arrive
        r.LoopSeconds = loop.Elapsed.TotalSeconds;
        r.Ops = ops;
        r.OpsPerSecond = ops / loop.Elapsed.TotalSeconds;
        r.LoopAllocatedBytes = GC.GetTotalAllocatedBytes(precise: false) - alloc0;
        r.Gen0 = GC.CollectionCount(0) - g0;
        r.Gen1 = GC.CollectionCount(1) - g1;
        r.Gen2 = GC.CollectionCount(2) - g2;
        var pauses = listener.Snapshot();
        r.Pauses = pauses.Count;
        r.MaxPauseMs = pauses.MaxMs;
        r.P99PauseMs = pauses.P99Ms;
        r.MaxPauseInfoMs = poller.MaxPauseMs;
        r.OtherSuspensions = listener.OtherSuspensions;
        r.OtherSuspensionMaxMs = listener.OtherMaxMs;
        r.TotalPauseMs = (GC.GetTotalPauseDuration() - pause0).TotalMilliseconds;
        var (heap2, rss2) = Measure(collect: false);
        r.HeapBytesAfterLoop = heap2 - heap0;
        r.RssBytesAfterLoop = rss2 - rss0;
        GC.KeepAlive(pop);
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(r, MemoryResult.JsonOptions));
        return 0;
    }

    /// <summary>Users are grouped in guilds of this many members who share the same channels.</summary>
    private const int GuildSize = 1000;

    /// <summary>Channel ids look like snowflakes; the members of one guild share its channels, so mentions land on existing states.</summary>
    private static ulong ChannelOf(ulong user, int index) => 0x0100_0000_0000_0000UL + ((user - 1) / GuildSize) * 4096 + (ulong)index;

    private static long Worker(IPopulation pop, long users, int channels, int seed, byte thread, TimeSpan duration)
    {
        var rng = new Random(seed);
        var mentioned = new ulong[10];
        long ops = 0;
        long end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            // Check the clock every 256 operations.
            if ((ops & 255) == 0 && Stopwatch.GetTimestamp() >= end) break;
            ulong user = 1 + (ulong)rng.NextInt64(users);
            ulong channel = ChannelOf(user, rng.Next(channels));
            // Time-ordered, like snowflakes; the low bits keep two threads' ids distinct.
            ulong message = ((ulong)(Stopwatch.GetTimestamp() & 0x0FFF_FFFF_FFFF_FFFF) << 4) | thread;
            int op = rng.Next(100);
            if (op < 70) pop.Ack(user, channel, message);
            else if (op < 90)
            {
                // A message in one of the user's guild channels mentions members of that guild.
                ulong guildStart = (user - 1) / GuildSize * GuildSize;
                long members = Math.Min(GuildSize, users - (long)guildStart);
                for (int i = 0; i < mentioned.Length; i++) mentioned[i] = guildStart + 1 + (ulong)rng.NextInt64(members);
                pop.Mention(channel, message, mentioned);
            }
            else pop.Get(user);
            ops++;
        }
        return ops;
    }

    private static (long Heap, long Rss) Measure(bool collect = true)
    {
        if (collect)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return (GC.GetTotalMemory(false), self.WorkingSet64);
    }
}
