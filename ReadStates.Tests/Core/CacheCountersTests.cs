using ReadStates.Core;

namespace ReadStates.Tests.Core;

/// <summary>The hit and miss counters behind readstates_cache_hits/misses: first tries only, retries not counted twice.</summary>
public sealed class CacheCountersTests
{
    [Fact]
    public async Task AMiss_IsCountedOnce_ItsRetryIsNoHit_AndResidentCallsAreHits()
    {
        var store = new MemoryStore();
        await using var engine = EngineTestKit.Create(store, EngineTestKit.SmallOptions(shards: 2));
        await engine.Ack(1, 10, 5);                    // miss: load, then served
        await engine.Ack(1, 10, 6);                    // hit
        await engine.Ack(1, 11, 6);                    // hit
        await engine.Mention(10, 7, 1, 2, 3);          // user 1 hit; users 2 and 3 miss
        await engine.GetAsync(1);                      // hit
        var stats = engine.GetStats();
        Assert.Equal((4L, 3L), (stats.Hits, stats.Misses));
        Assert.Equal(3, store.Loads);
    }
}
