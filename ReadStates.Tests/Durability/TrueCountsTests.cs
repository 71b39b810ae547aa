using ReadStates.Core;
using ReadStates.Tests.Core;

namespace ReadStates.Tests.Durability;

/// <summary>
/// The write-behind counts are of distinct users and states. The issue saw 20,637 "queued" users with at
/// most 16,000 resident, and a shutdown claiming 200,612 users unwritten in a run of 20,000 users.
/// </summary>
public sealed class TrueCountsTests
{
    [Fact]
    public async Task QueuedAndDirtyUsers_AreDistinct_UnderEvictionChurn()
    {
        // 8 shards of 250 states; 4,000 users changed over and over: constant eviction and reinstatement.
        var store = new MemoryStore { FailingWrites = int.MaxValue };
        var options = EngineTestKit.SmallOptions(capacity: 2000, shards: 8);
        options.MaxBacklogStates = 1_000_000;
        options.FlushInterval = TimeSpan.FromMinutes(5);
        await using var engine = new ReadStateEngine(options, store);
        var random = new Random(3);
        for (int i = 0; i < 40_000; i++)
        {
            ulong user = 1 + (ulong)random.Next(4000);
            await engine.Ack(user, 1 + (ulong)random.Next(3), (ulong)i + 1);
            if (i % 5000 != 0) continue;
            var s = engine.GetStats();
            Assert.True(s.QueuedDirtyUsers <= s.ResidentUsers, $"{s.QueuedDirtyUsers} queued, {s.ResidentUsers} resident");
        }
        var stats = engine.GetStats();
        Assert.True(stats.QueuedDirtyUsers <= stats.ResidentUsers, $"{stats.QueuedDirtyUsers} queued, {stats.ResidentUsers} resident");
        Assert.Equal(4000, stats.DirtyUsers); // nothing was ever written: every user touched is dirty, once
        Assert.Equal(stats.DirtyUsers, stats.QueuedDirtyUsers + stats.EvictedDirtyUsers);
        Assert.True(stats.EvictedDirtyUsers > 0, "the test evicted dirty users");
        store.FailingWrites = 0;
    }

    [Fact]
    public async Task DirtyUsers_DropToZero_OnceWritten_AndFlushedUsersCountEachWriteOnceDespiteRetries()
    {
        var store = new MemoryStore { FailingWrites = 3 };
        var options = EngineTestKit.SmallOptions(capacity: 2000, shards: 4);
        options.FlushInterval = TimeSpan.FromMinutes(5);
        await using var engine = new ReadStateEngine(options, store);
        for (ulong u = 1; u <= 300; u++) await engine.Ack(u, 1, u);
        Assert.Equal(300, engine.GetStats().DirtyUsers);
        await engine.FlushAsync();
        var stats = engine.GetStats();
        Assert.Equal(0, stats.DirtyUsers);
        Assert.Equal(0, stats.QueuedDirtyUsers);
        Assert.Equal(300, stats.FlushedUsers);
        Assert.True(stats.StoreWriteFailures >= 3);
    }
}
