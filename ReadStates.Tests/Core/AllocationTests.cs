using ReadStates.Core;
using ReadStates.Core.Sync;

namespace ReadStates.Tests.Core;

public sealed class AllocationTests
{
    [Fact]
    public Task ResidentHotPath_AllocatesNothing() => AssertHotPathAllocatesNothing(watch: null);

    /// <summary>Watchers on other users (in the same shards) cost the hot path a lookup, not an allocation.</summary>
    [Fact]
    public Task ResidentHotPath_AllocatesNothing_WithWatchersOnOtherUsers() =>
        AssertHotPathAllocatesNothing(watch: engine =>
        {
            for (ulong u = 10_001; u <= 10_256; u++) engine.Watch(new QuietSubscription(u));
        });

    /// <summary>Watched users themselves: marking a subscription pending is an interlocked flag, no allocation in the engine.</summary>
    [Fact]
    public Task ResidentHotPath_AllocatesNothing_WhenTheUsersThemselvesAreWatched() =>
        AssertHotPathAllocatesNothing(watch: engine =>
        {
            for (ulong u = 1; u <= 64; u++) engine.Watch(new QuietSubscription(u));
        });

    /// <summary>A subscription whose consumer never reads: it is marked once and stays pending.</summary>
    private sealed class QuietSubscription(ulong userId) : ChangeSubscription(userId)
    {
        protected override void OnPending()
        {
        }
    }

    private static async Task AssertHotPathAllocatesNothing(Action<ReadStateEngine>? watch)
    {
        var store = new MemoryStore();
        var options = EngineTestKit.SmallOptions();
        options.MaxStatesPerUser = 1000;
        options.MentionIdCap = 100;
        await using var engine = new ReadStateEngine(options, store);
        const int users = 64;
        for (ulong u = 1; u <= users; u++)
            for (ulong c = 1; c <= 10; c++)
                await engine.AckAsync(u, new AckCommand { ChannelId = c, MessageId = 1, Attributes = new StateAttributes { ParentId = c % 3 } });
        watch?.Invoke(engine);

        ulong[] fanOut = [.. Enumerable.Range(1, users).Select(i => (ulong)i)];
        var bulk = new AckCommand[10];
        var results = new AckResult[10];
        ulong[] someChannels = [3, 1, 7];
        var snapshot = new UserSnapshot();
        long statesRead = 0;

        void Round(ulong m)
        {
            for (ulong u = 1; u <= users; u++)
            {
                var ack = engine.AckAsync(u, new AckCommand { ChannelId = 1 + m % 10, MessageId = m });
                Assert.True(ack.IsCompletedSuccessfully);
                for (int i = 0; i < bulk.Length; i++) bulk[i] = new AckCommand { ChannelId = (ulong)i + 1, MessageId = m };
                Assert.True(engine.BulkAckAsync(u, bulk, results).IsCompletedSuccessfully);
                Assert.True(engine.TryRead(u, default, snapshot));
                statesRead += snapshot.States.Length;
                Assert.True(engine.TryRead(u, someChannels, snapshot));
                statesRead += snapshot.States.Length;
            }
            Assert.True(engine.AddMentionsAsync(5, m + 1, fanOut, default, null).IsCompletedSuccessfully);
            Assert.True(engine.AddMentionsAsync(6, m + 2, fanOut, default, null).IsCompletedSuccessfully);
            Assert.True(engine.RemoveMentionsAsync(6, m + 2, fanOut).IsCompletedSuccessfully);
            Assert.True(engine.AckParentAsync(1 + m % users, 2, m).IsCompletedSuccessfully);
        }

        ulong message = 10;
        for (int i = 0; i < 200; i++) Round(message += 10); // warm up: JIT tiers, pools sized
        // Best of three rounds: a tier-up still finishing can make the runtime allocate on this thread once.
        long allocated = long.MaxValue;
        for (int round = 0; round < 3 && allocated != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) Round(message += 10); // 6,400 acks, bulk acks and reads; 400 fan-outs of 64
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(allocated == 0, $"allocated {allocated} bytes");
        Assert.True(statesRead > 0);
        Assert.True(engine.TryRead(1, default, snapshot));
        Assert.True(snapshot.Totals.TotalMentions > 0, "the fan-outs counted mentions");
    }
}
