using System.Diagnostics;
using ReadStates.Core;

namespace ReadStates.Tests.Core;

public sealed class WriteBehindTests
{
    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout) throw new TimeoutException("condition not met in time");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Change_ReachesStore_WithinFlushInterval()
    {
        var store = new MemoryStore();
        await using var engine = EngineTestKit.Create(store); // FlushInterval 100 ms
        engine.Start();
        var watch = Stopwatch.StartNew();
        await engine.Ack(1, 10, 100);
        await WaitUntil(() => store.Stored(1, 10) is not null, TimeSpan.FromSeconds(5));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
        Assert.Equal(100UL, store.Stored(1, 10)!.Value.LastMessageId);
    }

    [Fact]
    public async Task ManyChangesOfOneUser_AreCoalescedIntoOneWrite()
    {
        var store = new MemoryStore();
        await using var engine = EngineTestKit.Create(store);
        for (ulong m = 1; m <= 100; m++) await engine.Ack(1, 10 + m % 5, m);
        await engine.FlushAsync();
        Assert.Equal(1, store.Writes);
        Assert.Equal(5, store.StoredCount(1));
        Assert.Equal(100UL, store.Stored(1, 10)!.Value.LastMessageId);
    }

    [Fact]
    public async Task FailingStore_IsRetried_AndNothingIsDropped()
    {
        var store = new MemoryStore { FailingWrites = 3 };
        var engine = EngineTestKit.Create(store);
        engine.Start();
        for (ulong u = 1; u <= 20; u++) await engine.Ack(u, 10, u * 10);
        await WaitUntil(() => store.StoredCount(20) == 1 && store.FailingWrites <= 0, TimeSpan.FromSeconds(10));
        await engine.DisposeAsync();
        for (ulong u = 1; u <= 20; u++) Assert.Equal(u * 10, store.Stored(u, 10)!.Value.LastMessageId);
        Assert.True(engine.GetStats().StoreWriteFailures >= 3);
    }

    [Fact]
    public async Task Dispose_FlushesEverything()
    {
        var store = new MemoryStore();
        var engine = EngineTestKit.Create(store, EngineTestKit.SmallOptions());
        engine.Start();
        for (ulong u = 1; u <= 200; u++) await engine.Ack(u, 7, 1000 + u);
        await engine.DisposeAsync();
        for (ulong u = 1; u <= 200; u++) Assert.Equal(1000 + u, store.Stored(u, 7)!.Value.LastMessageId);
    }

    [Fact]
    public async Task DeleteReachesStore_AndReloadDoesNotResurrect()
    {
        var store = new MemoryStore();
        await using (var engine = EngineTestKit.Create(store))
        {
            await engine.Ack(1, 10, 100);
            await engine.Ack(1, 11, 100);
            await engine.FlushAsync();
            await engine.DeleteAsync(1, new ulong[] { 10 }, all: false);
        }
        Assert.Null(store.Stored(1, 10));
        await using var reopened = EngineTestKit.Create(store);
        var s = await reopened.GetAsync(1);
        Assert.Equal([11UL], s.States.Select(x => x.ChannelId));
    }

    [Fact]
    public async Task Reopen_KeepsUserVersionRising_EvenAfterDeletes()
    {
        var store = new MemoryStore();
        ulong version;
        await using (var engine = EngineTestKit.Create(store))
        {
            await engine.Ack(1, 10, 100);
            await engine.Ack(1, 11, 100);
            await engine.DeleteAsync(1, default, all: true);
            version = (await engine.GetAsync(1)).Version;
        }
        await using var reopened = EngineTestKit.Create(store);
        Assert.Equal(version, (await reopened.GetAsync(1)).Version);
        var next = await reopened.Ack(1, 12, 1);
        Assert.True(next.State.Version > version);
    }

    [Fact]
    public async Task EvictedDirtyUsers_WaitingForADownStore_PushBack_ThenRecover()
    {
        var options = EngineTestKit.SmallOptions(capacity: 20, shards: 1);
        options.MaxBacklogStates = 10;
        options.MaxStatesPerUser = 5;
        var store = new MemoryStore { FailingWrites = int.MaxValue };
        var engine = EngineTestKit.Create(store, options);
        engine.Start();
        BackpressureException? pushedBack = null;
        for (ulong u = 1; u <= 100 && pushedBack is null; u++)
        {
            try { await engine.Ack(u, 10, u); }
            catch (BackpressureException ex) { pushedBack = ex; }
        }
        Assert.NotNull(pushedBack);
        await WaitUntil(() => engine.GetStats().StoreWriteFailures > 0, TimeSpan.FromSeconds(5));
        var whileDown = await Assert.ThrowsAsync<BackpressureException>(async () => await engine.Ack(999, 10, 1));
        Assert.True(whileDown.StoreDown);

        store.FailingWrites = 0;
        await WaitUntil(() => engine.GetStats().BacklogStates == 0, TimeSpan.FromSeconds(10));
        await engine.Ack(999, 10, 1);
        await engine.DisposeAsync();
        var accepted = Enumerable.Range(1, 100).Select(i => (ulong)i).Where(u => store.Stored(u, 10) is not null).ToList();
        Assert.True(accepted.Count >= 10);
        foreach (ulong u in accepted) Assert.Equal(u, store.Stored(u, 10)!.Value.LastMessageId);
        Assert.NotNull(store.Stored(999, 10));
    }

    [Fact]
    public async Task ConcurrentMisses_OnOneUser_ShareOneLoad()
    {
        var store = new MemoryStore { LoadDelay = TimeSpan.FromMilliseconds(100) };
        await using var engine = EngineTestKit.Create(store);
        var tasks = Enumerable.Range(0, 16).Select(i => engine.Ack(1, (ulong)(10 + i), 5).AsTask()).ToArray();
        await Task.WhenAll(tasks);
        Assert.Equal(1, store.Loads);
        Assert.Equal(16, (await engine.GetAsync(1)).States.Count);
    }

    [Fact]
    public async Task FailedLoad_IsReportedAsStoreUnavailable_AndTheNextCallRetries()
    {
        var store = new MemoryStore { FailingLoads = 1 };
        await using var engine = EngineTestKit.Create(store);
        await Assert.ThrowsAsync<StoreUnavailableException>(async () => await engine.Ack(1, 10, 5));
        var r = await engine.Ack(1, 10, 5);
        Assert.True(r.Applied);
    }

    [Fact]
    public async Task WriteInFlight_WhileUserChanges_LosesNothing()
    {
        var store = new MemoryStore();
        var gate = new TaskCompletionSource();
        int calls = 0;
        store.BeforeWrite = _ => Interlocked.Increment(ref calls) == 1 ? gate.Task : Task.CompletedTask;
        await using var engine = EngineTestKit.Create(store);
        await engine.Ack(1, 10, 100);
        var flush = engine.FlushAsync();
        await WaitUntil(() => Volatile.Read(ref calls) == 1, TimeSpan.FromSeconds(5));
        await engine.Ack(1, 10, 200);      // changes after the snapshot
        gate.SetResult();
        await flush;
        Assert.Equal(100UL, store.Stored(1, 10)!.Value.LastMessageId);
        await engine.FlushAsync();
        Assert.Equal(200UL, store.Stored(1, 10)!.Value.LastMessageId);
    }
}
