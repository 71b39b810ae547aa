using ReadStates.Core;
using ReadStates.Core.Durability;
using ReadStates.Tests.Core;

namespace ReadStates.Tests.Durability;

/// <summary>
/// Durable mode through the engine: a call is answered only once its group is synced, and a crash at
/// any moment (the device's synced bytes only) followed by a replay loses nothing that was answered.
/// </summary>
public sealed class DurableModeTests
{
    internal static EngineOptions Durable(TimeSpan? flush = null)
    {
        var o = EngineTestKit.SmallOptions();
        o.Durability = DurabilityMode.Durable;
        o.FlushInterval = flush ?? TimeSpan.FromMinutes(5); // only the log keeps changes unless a test flushes
        return o;
    }

    internal static async Task<ReadStateEngine> StartAsync(MemoryStore store, ILogDevice device, EngineOptions? options = null, TestLogger? logger = null)
    {
        var engine = new ReadStateEngine(options ?? Durable(), store, logger, logDevice: device);
        await engine.StartAsync();
        return engine;
    }

    /// <summary>Every kind of change, on a few users.</summary>
    internal static async Task MakeChangesAsync(ReadStateEngine e)
    {
        for (ulong u = 1; u <= 6; u++)
        {
            for (ulong c = 1; c <= 4; c++) await e.Ack(u, c, 100 * c, attributes: new StateAttributes { ParentId = 7, Type = ReadStateType.GuildHome });
            await e.AckPinsAsync(u, 1, 1_700_000_000_000 + (long)u, default);
        }
        ulong[] all = [1, 2, 3, 4, 5, 6];
        await e.AddMentionsAsync(2, 500, all, default, null);
        await e.AddMentionsAsync(2, 501, all, default, null);
        await e.RemoveMentionsAsync(2, 500, all[..3]);
        await e.DeleteAsync(4, new ulong[] { 3 }, all: false);
        await e.DeleteAsync(6, default, all: true);
        await e.AckParentAsync(5, 7, 250);
        await e.BulkAckAsync(2, new AckCommand[] { new() { ChannelId = 9, MessageId = 9 }, new() { ChannelId = 1, MessageId = 50, Manual = true } }, new AckResult[2]);
    }

    internal static async Task<List<Snapshot>> ReadAllAsync(ReadStateEngine e)
    {
        var all = new List<Snapshot>();
        for (ulong u = 1; u <= 6; u++) all.Add(await e.GetAsync(u));
        return all;
    }

    internal static void AssertSame(List<Snapshot> expected, List<Snapshot> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Version, actual[i].Version);
            Assert.Equal(expected[i].Totals, actual[i].Totals);
            Assert.Equal(expected[i].States, actual[i].States);
        }
    }

    [Fact]
    public async Task Call_IsAnsweredOnlyOnceItsGroupIsSynced()
    {
        var device = new MemoryLogDevice();
        var store = new MemoryStore();
        var engine = await StartAsync(store, device);
        using var gate = new ManualResetEventSlim(false);
        device.SyncGate = gate;
        var ack = engine.Ack(1, 10, 100).AsTask();
        await Task.Delay(200);
        Assert.False(ack.IsCompleted, "answered before its fsync");
        gate.Set();
        Assert.True((await ack.WaitAsync(TimeSpan.FromSeconds(10))).Applied);
        device.SyncGate = null;
        await engine.DisposeAsync();
    }

    [Fact]
    public async Task RetriedCall_ThatChangesNothing_StillWaitsForTheFirstOnesSync()
    {
        var device = new MemoryLogDevice();
        var engine = await StartAsync(new MemoryStore(), device);
        using var gate = new ManualResetEventSlim(false);
        device.SyncGate = gate;
        var first = engine.Ack(1, 10, 100).AsTask();
        var retry = engine.Ack(1, 10, 100).AsTask(); // applied, changes nothing, reports the unsynced state
        await Task.Delay(100);
        Assert.False(retry.IsCompleted, "a retry was answered before the change it reports was durable");
        gate.Set();
        await Task.WhenAll(first, retry).WaitAsync(TimeSpan.FromSeconds(10));
        device.SyncGate = null;
        await engine.DisposeAsync();
    }

    [Fact]
    public async Task CrashAtAnyMoment_ThenReplay_KeepsEveryAnsweredChange()
    {
        var device = new MemoryLogDevice();
        var store = new MemoryStore();
        var engine = await StartAsync(store, device);
        await MakeChangesAsync(engine);
        var before = await ReadAllAsync(engine);
        var crashed = device.CrashImage(); // kill -9 now: only synced bytes survive; the store never got a write

        Assert.Equal(0, store.Writes);
        var store2 = new MemoryStore();
        await using var restarted = await StartAsync(store2, crashed);
        Assert.True(store2.Writes > 0, "replay wrote to the store");
        Assert.DoesNotContain(crashed.Segments(), s => s < 2); // replayed segments are gone
        AssertSame(before, await ReadAllAsync(restarted));
        await engine.DisposeAsync(); // only now: until the assertions it stood abandoned, as a killed process would
    }

    [Fact]
    public async Task ConcurrentCallers_ShareFsyncs()
    {
        var device = new MemoryLogDevice();
        var engine = await StartAsync(new MemoryStore(), device, Durable());
        const int callers = 32, each = 50;
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            for (int i = 1; i <= each; i++) await engine.Ack((ulong)c + 1, 1, (ulong)i);
        })));
        var stats = engine.GetStats().ChangeLog!.Value;
        Assert.True(stats.Calls > 0 && stats.Calls <= callers * each, $"{stats.Calls} calls waited"); // some find their group already synced
        Assert.True(stats.Syncs < callers * each, $"{stats.Syncs} fsyncs for {callers * each} calls");
        await engine.DisposeAsync();
    }

    [Fact]
    public async Task Replay_DoesNotRegressAStateTheStoreHasNewer()
    {
        var device = new MemoryLogDevice();
        var store = new MemoryStore();
        var engine = await StartAsync(store, device);
        await engine.Ack(1, 10, 100);
        var crashed = device.CrashImage(); // the log says 100
        await engine.Ack(1, 10, 200);
        await engine.FlushAsync();          // the store says 200 (a later write reached it before the crash)
        await using var restarted = await StartAsync(store, crashed);
        Assert.Equal(200UL, (await restarted.StateAsync(1, 10))!.Value.LastMessageId);
        await engine.DisposeAsync(); // only now: until the assertions it stood abandoned, as a killed process would
    }

    [Fact]
    public async Task FlushPasses_DeleteSegmentsTheStoreCovers_AndACleanStopLeavesNoLog()
    {
        var device = new MemoryLogDevice();
        var store = new MemoryStore();
        var engine = await StartAsync(store, device);
        for (int round = 1; round <= 3; round++)
        {
            await engine.Ack(1, 10, (ulong)round);
            await engine.FlushAsync();
        }
        Assert.True(device.Segments().Count <= 2, $"segments left: {string.Join(",", device.Segments())}");
        await engine.Ack(1, 10, 99);
        await engine.DisposeAsync();
        Assert.Empty(device.Segments());
        Assert.Equal(99UL, store.Stored(1, 10)!.Value.LastMessageId);
        Assert.True(device.Disposed);
    }

    [Fact]
    public async Task FailingStoreAtShutdown_KeepsTheLog_AndTheNextStartWritesIt()
    {
        var device = new MemoryLogDevice();
        var store = new MemoryStore { FailingWrites = int.MaxValue };
        var options = Durable();
        options.ShutdownFlushTimeout = TimeSpan.FromMilliseconds(300);
        var logger = new TestLogger();
        var engine = await StartAsync(store, device, options, logger);
        await MakeChangesAsync(engine);
        var before = await ReadAllAsync(engine);
        await engine.DisposeAsync();
        Assert.Contains(logger.Entries, e => e.Id == 1018); // kept in the log
        Assert.DoesNotContain(logger.Entries, e => e.Id == 1020); // nothing lost

        store.FailingWrites = 0;
        await using var restarted = await StartAsync(store, device.CrashImage());
        AssertSame(before, await ReadAllAsync(restarted));
    }

    [Fact]
    public async Task FailedFsync_FailsTheCall_RefusesWrites_ThenRecovers()
    {
        var device = new MemoryLogDevice();
        var engine = await StartAsync(new MemoryStore(), device);
        await engine.Ack(1, 10, 1);
        device.FailSyncs = true;
        await Assert.ThrowsAsync<BackpressureException>(async () => await engine.Ack(1, 10, 2));
        var refused = await Assert.ThrowsAsync<BackpressureException>(async () => await engine.Ack(1, 10, 3));
        Assert.True(refused.StoreDown);
        device.FailSyncs = false;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try { await engine.Ack(1, 10, 4); break; }
            catch (BackpressureException) when (DateTime.UtcNow < deadline) { await Task.Delay(50); }
        }
        var crashed = device.CrashImage();
        await using var restarted = await StartAsync(new MemoryStore(), crashed);
        Assert.Equal(4UL, (await restarted.StateAsync(1, 10))!.Value.LastMessageId);
        await engine.DisposeAsync(); // only now: until the assertions it stood abandoned, as a killed process would
    }

    [Fact]
    public async Task CallsBeforeStart_AreRefused()
    {
        var engine = new ReadStateEngine(Durable(), new MemoryStore(), logDevice: new MemoryLogDevice());
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await engine.Ack(1, 1, 1));
        await engine.DisposeAsync();
    }

    [Fact]
    public void DurableWithoutADevice_IsRefused() =>
        Assert.Throws<ArgumentException>(() => new ReadStateEngine(Durable(), new MemoryStore()));
}

public sealed class DurableCompactionTests
{
    [Fact]
    public async Task LongOutage_CompactsTheLog_ToWhatIsUnwritten_AndLosesNothing()
    {
        var device = new MemoryLogDevice();
        var store = new MemoryStore { FailingWrites = int.MaxValue };
        var options = DurableModeTests.Durable(TimeSpan.FromMilliseconds(100));
        options.LogCompactBytes = 1 << 20;
        options.ShutdownFlushTimeout = TimeSpan.Zero; // its store never recovers: do not retry at the end
        var logger = new TestLogger();
        var engine = await DurableModeTests.StartAsync(store, device, options, logger);
        // 40,000 acks, each a change (every writer owns 5 users), on 40 users × 2 channels: ~1.8 MB of records, 80 states unwritten.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (int i = 1; i <= 5000; i++) await engine.Ack((ulong)(w * 5 + i % 5 + 1), 1 + (ulong)(i / 5 % 2), (ulong)i);
        })));
        long Total() => device.Segments().Sum(s => (long)device.Bytes(s).Length);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (logger.Messages(1021).FirstOrDefault() is null)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no compaction; log holds {Total()} bytes in {device.Segments().Count} segments; {engine.GetStats().ChangeLog}; {string.Join(" | ", logger.Entries.Select(e => e.Id).Distinct())}");
            await Task.Delay(50);
        }
        Assert.True(Total() < options.LogCompactBytes, $"{Total()} bytes after compaction");
        var expected = new Dictionary<(ulong, ulong), ulong>();
        for (ulong u = 1; u <= 40; u++)
            for (ulong c = 1; c <= 2; c++)
                if (await engine.StateAsync(u, c) is { } s) expected[(u, c)] = s.LastMessageId;

        var healthy = new MemoryStore();
        await using var restarted = await DurableModeTests.StartAsync(healthy, device.CrashImage());
        foreach (var ((u, c), m) in expected) Assert.Equal(m, healthy.Stored(u, c)!.Value.LastMessageId);
        await engine.DisposeAsync(); // only now: until the assertions it stood abandoned, as a killed process would
    }
}
