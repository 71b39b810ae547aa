using ReadStates.Core;

namespace ReadStates.Tests.Core;

public sealed class MentionTests : IAsyncLifetime
{
    private readonly MemoryStore _store = new();
    private ReadStateEngine _engine = null!;

    public Task InitializeAsync()
    {
        _engine = EngineTestKit.Create(_store); // MentionIdCap = 8
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    private async Task<int> Count(ulong user, ulong channel) => (await _engine.StateAsync(user, channel))?.MentionCount ?? -1;

    [Fact]
    public async Task SameMentionTwice_CountsOnce()
    {
        Assert.Equal(1, await _engine.Mention(10, 200, 1));
        Assert.Equal(0, await _engine.Mention(10, 200, 1));
        Assert.Equal(1, await Count(1, 10));
    }

    [Fact]
    public async Task MentionAtOrBelowReadPosition_IsNotCounted()
    {
        await _engine.Ack(1, 10, 200);
        Assert.Equal(0, await _engine.Mention(10, 200, 1));
        Assert.Equal(0, await _engine.Mention(10, 150, 1));
        Assert.Equal(1, await _engine.Mention(10, 201, 1));
        Assert.Equal(1, await Count(1, 10));
    }

    [Fact]
    public async Task MentionFanOut_CountsPerUser_AndCreatesMissingStatesWithAttributes()
    {
        await _engine.Ack(2, 10, 500);
        int counted = await _engine.AddMentionsAsync(10, 300, new ulong[] { 1, 2, 3 }, new StateAttributes { ParentId = 8 }, null);
        Assert.Equal(2, counted);
        Assert.Equal(1, await Count(1, 10));
        Assert.Equal(0, await Count(2, 10));
        var created = (await _engine.StateAsync(3, 10))!.Value;
        Assert.Equal(8UL, created.ParentId);
        Assert.Equal(0UL, created.LastMessageId);
    }

    [Fact]
    public async Task RemoveMention_UncountsExactly()
    {
        foreach (ulong m in new ulong[] { 101, 102, 103 }) await _engine.Mention(10, m, 1);
        Assert.Equal(1, await _engine.Unmention(10, 102, 1));
        Assert.Equal(0, await _engine.Unmention(10, 102, 1));
        Assert.Equal(0, await _engine.Unmention(10, 999, 1));
        Assert.Equal(2, await Count(1, 10));
        Assert.Equal(0, await _engine.Unmention(11, 101, 1)); // other channel, no state
    }

    [Fact]
    public async Task PastTheCap_MentionsStillCount_AndAnAckAboveAllClearsThem()
    {
        for (ulong m = 1; m <= 12; m++) await _engine.Mention(10, 100 + m, 1);
        Assert.Equal(12, await Count(1, 10));
        // Held ids are the newest 8 (105..112): they stay exact and idempotent.
        Assert.Equal(0, await _engine.Mention(10, 112, 1));
        Assert.Equal(1, await _engine.Unmention(10, 112, 1));
        Assert.Equal(11, await Count(1, 10));
        // Overflowed: 101..104. An ack among them keeps the overflow count (conservative)...
        await _engine.Ack(1, 10, 103);
        Assert.Equal(11, await Count(1, 10));
        // ...an ack at or above the largest overflowed id clears it exactly, and drops held ids below it.
        await _engine.Ack(1, 10, 106);
        Assert.Equal(5, await Count(1, 10)); // 107..111
        await _engine.Ack(1, 10, 111);
        Assert.Equal(0, await Count(1, 10));
    }

    [Fact]
    public async Task MentionsSurviveEvictionAndReload_Exactly()
    {
        var options = EngineTestKit.SmallOptions(capacity: 60, shards: 1);
        var store = new MemoryStore();
        await using (var engine = EngineTestKit.Create(store, options))
        {
            for (ulong m = 1; m <= 10; m++) await engine.Mention(10, 100 + m, 1);
            // Push user 1 out of the cache: users seen twice outrank it (a one-pass scan would not).
            for (ulong u = 2; u <= 80; u++)
            {
                await engine.Ack(u, 10, 5);
                await engine.Ack(u, 10, 6);
            }
            await engine.FlushAsync();
            Assert.Equal(1, store.StoredCount(1)); // the evicted dirty user was handed to write-behind
            int loads = store.Loads;
            Assert.Equal(0, await engine.Mention(10, 110, 1)); // held id remembered across eviction
            Assert.Equal(loads + 1, store.Loads); // reloaded from the store, not from memory
            Assert.Equal(10, (await engine.StateAsync(1, 10))!.Value.MentionCount);
            await engine.Ack(1, 10, 108);
            Assert.Equal(2, (await engine.StateAsync(1, 10))!.Value.MentionCount);
        }
    }
}
