using ReadStates.Core;

namespace ReadStates.Tests.Core;

public sealed class AckTests : IAsyncLifetime
{
    private readonly MemoryStore _store = new();
    private ReadStateEngine _engine = null!;

    public Task InitializeAsync()
    {
        _engine = EngineTestKit.Create(_store);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    [Fact]
    public async Task AckOnMissingState_CreatesIt_WithAttributes()
    {
        var r = await _engine.Ack(1, 10, 100, attributes: new StateAttributes { ParentId = 7, Type = ReadStateType.GuildEvent, Flags = ReadStateFlags.Thread, LastViewed = 42 });
        Assert.True(r.Applied);
        Assert.Equal(100UL, r.State.LastMessageId);
        var s = (await _engine.StateAsync(1, 10))!.Value;
        Assert.Equal(7UL, s.ParentId);
        Assert.Equal(ReadStateType.GuildEvent, s.Type);
        Assert.Equal(ReadStateFlags.Thread, s.Flags);
        Assert.Equal(42, s.LastViewed);
        Assert.Equal(0, s.MentionCount);
    }

    [Fact]
    public async Task AckOlderMessage_IsIgnored_UnlessManual()
    {
        await _engine.Ack(1, 10, 100);
        var older = await _engine.Ack(1, 10, 50);
        Assert.False(older.Applied);
        Assert.Equal(100UL, older.State.LastMessageId);
        Assert.Equal(100UL, (await _engine.StateAsync(1, 10))!.Value.LastMessageId);

        var manual = await _engine.Ack(1, 10, 50, manual: true);
        Assert.True(manual.Applied);
        Assert.Equal(50UL, (await _engine.StateAsync(1, 10))!.Value.LastMessageId);
    }

    [Fact]
    public async Task IgnoredAck_DoesNotChangeAttributesOrVersion()
    {
        await _engine.Ack(1, 10, 100);
        var before = (await _engine.GetAsync(1)).Version;
        var r = await _engine.Ack(1, 10, 50, attributes: new StateAttributes { ParentId = 9 });
        Assert.False(r.Applied);
        var after = await _engine.GetAsync(1);
        Assert.Equal(before, after.Version);
        Assert.Equal(0UL, after.States[0].ParentId);
    }

    [Fact]
    public async Task Version_RisesWithEveryChange_AndNotWithoutOne()
    {
        var v1 = (await _engine.Ack(1, 10, 100)).State.Version;
        var v2 = (await _engine.Ack(1, 11, 100)).State.Version;
        var v3 = (await _engine.Ack(1, 10, 200)).State.Version;
        Assert.True(v1 < v2 && v2 < v3);
        var same = await _engine.Ack(1, 10, 200);
        Assert.True(same.Applied);
        Assert.Equal(v3, same.State.Version);
        Assert.Equal(v3, (await _engine.GetAsync(1)).Version);
    }

    [Fact]
    public async Task ForwardAck_DropsMentionsAtOrBelowIt()
    {
        await _engine.Ack(1, 10, 100);
        await _engine.Mention(10, 110, 1);
        await _engine.Mention(10, 120, 1);
        await _engine.Mention(10, 130, 1);
        Assert.Equal(3, (await _engine.StateAsync(1, 10))!.Value.MentionCount);
        await _engine.Ack(1, 10, 120);
        Assert.Equal(1, (await _engine.StateAsync(1, 10))!.Value.MentionCount);
    }

    [Fact]
    public async Task ManualAck_RecountsFromHeldIdsAboveNewPosition()
    {
        await _engine.Ack(1, 10, 100);
        foreach (ulong m in new ulong[] { 110, 120, 130 }) await _engine.Mention(10, m, 1);
        await _engine.Ack(1, 10, 125, manual: true);   // forward manual: drops 110, 120
        Assert.Equal(1, (await _engine.StateAsync(1, 10))!.Value.MentionCount);
        await _engine.Ack(1, 10, 105, manual: true);   // back: counts what it still holds above 105
        Assert.Equal(1, (await _engine.StateAsync(1, 10))!.Value.MentionCount);
        await _engine.Mention(10, 110, 1);             // 110 is unread again, so it counts again
        Assert.Equal(2, (await _engine.StateAsync(1, 10))!.Value.MentionCount);
    }

    [Fact]
    public async Task BulkAck_AppliesEachEntryWithAckRules_UnderOneVersion()
    {
        await _engine.Ack(1, 10, 100);
        var cmds = new[]
        {
            new AckCommand { ChannelId = 10, MessageId = 50 },
            new AckCommand { ChannelId = 11, MessageId = 60 },
            new AckCommand { ChannelId = 12, MessageId = 70, Manual = true },
        };
        var results = new AckResult[3];
        await _engine.BulkAckAsync(1, cmds, results);
        Assert.False(results[0].Applied);
        Assert.True(results[1].Applied);
        Assert.True(results[2].Applied);
        Assert.Equal(results[1].State.Version, results[2].State.Version);
        var all = await _engine.GetAsync(1);
        Assert.Equal([10UL, 11UL, 12UL], all.States.Select(s => s.ChannelId));
    }

    [Fact]
    public async Task AckParent_MovesOnlyThatParentsStatesForward()
    {
        var guild = new StateAttributes { ParentId = 5 };
        await _engine.Ack(1, 10, 100, attributes: guild);
        await _engine.Ack(1, 11, 300, attributes: guild);
        await _engine.Ack(1, 12, 100);
        await _engine.Mention(10, 150, 1);
        int acked = await _engine.AckParentAsync(1, 5, 200);
        Assert.Equal(1, acked);
        var s = await _engine.GetAsync(1);
        Assert.Equal(200UL, s.States[0].LastMessageId);
        Assert.Equal(0, s.States[0].MentionCount);
        Assert.Equal(300UL, s.States[1].LastMessageId);
        Assert.Equal(100UL, s.States[2].LastMessageId);
    }

    [Fact]
    public async Task AckPins_IsForwardOnly_AndCreatesTheState()
    {
        var r = await _engine.AckPinsAsync(1, 10, 1_700_000_000_000, default);
        Assert.True(r.Applied);
        Assert.Equal(1_700_000_000_000, r.State.LastPinTimestamp);
        var older = await _engine.AckPinsAsync(1, 10, 1_600_000_000_000, default);
        Assert.False(older.Applied);
        Assert.Equal(1_700_000_000_000, (await _engine.StateAsync(1, 10))!.Value.LastPinTimestamp);
    }

    [Fact]
    public async Task Delete_DropsListedStates_AndAllDropsEverything()
    {
        await _engine.Ack(1, 10, 100);
        await _engine.Ack(1, 11, 100);
        await _engine.Ack(1, 12, 100);
        Assert.Equal(1, await _engine.DeleteAsync(1, new ulong[] { 11, 99 }, all: false));
        Assert.Equal([10UL, 12UL], (await _engine.GetAsync(1)).States.Select(s => s.ChannelId));
        Assert.Equal(2, await _engine.DeleteAsync(1, ReadOnlyMemory<ulong>.Empty, all: true));
        Assert.Empty((await _engine.GetAsync(1)).States);
    }

    [Fact]
    public async Task DeletedState_IsRecreatedFresh()
    {
        await _engine.Ack(1, 10, 100, attributes: new StateAttributes { ParentId = 3 });
        await _engine.Mention(10, 150, 1);
        await _engine.DeleteAsync(1, new ulong[] { 10 }, all: false);
        var r = await _engine.Ack(1, 10, 20);
        Assert.True(r.Applied);
        Assert.Equal(20UL, r.State.LastMessageId);
        Assert.Equal(0UL, r.State.ParentId);
        Assert.Equal(0, r.State.MentionCount);
    }

    [Fact]
    public async Task Get_ReturnsTotalsOverAllStates_PerParent_AndOnlyListedChannels()
    {
        await _engine.Ack(1, 10, 100, attributes: new StateAttributes { ParentId = 5 });
        await _engine.Ack(1, 11, 100, attributes: new StateAttributes { ParentId = 5 });
        await _engine.Ack(1, 12, 100);
        await _engine.Mention(10, 101, 1);
        await _engine.Mention(10, 102, 1);
        await _engine.Mention(12, 103, 1);
        var s = await _engine.GetAsync(1, 12, 11, 12, 999);
        Assert.Equal([11UL, 12UL], s.States.Select(x => x.ChannelId));
        Assert.Equal(3, s.Totals.TotalMentions);
        Assert.Equal(2, s.Totals.ChannelsWithMentions);
        Assert.Equal(3, s.Totals.States);
        Assert.Equal(2, s.Parents.Count);
        Assert.Equal((0UL, 1L, 1), (s.Parents[0].ParentId, s.Parents[0].Mentions, s.Parents[0].ChannelsWithMentions));
        Assert.Equal((5UL, 2L, 1), (s.Parents[1].ParentId, s.Parents[1].Mentions, s.Parents[1].ChannelsWithMentions));
    }

    [Fact]
    public async Task StatesPerUserLimit_RejectsNewStates_AndChangesNothing()
    {
        for (ulong c = 1; c <= 50; c++) await _engine.Ack(1, c, 100);
        var before = await _engine.GetAsync(1);
        var ex = await Assert.ThrowsAsync<StateLimitException>(async () => await _engine.Ack(1, 51, 100));
        Assert.Equal((-1, 51, 50), (ex.EntryIndex, ex.States, ex.Limit));
        await _engine.Ack(1, 50, 200); // existing states still update

        var cmds = new[] { new AckCommand { ChannelId = 1, MessageId = 500 }, new AckCommand { ChannelId = 52, MessageId = 1 } };
        var bulk = await Assert.ThrowsAsync<StateLimitException>(async () => await _engine.BulkAckAsync(1, cmds, new AckResult[2]));
        Assert.Equal(1, bulk.EntryIndex); // the second entry is the new channel that passes the limit
        var after = await _engine.GetAsync(1);
        Assert.Equal(50, after.States.Count);
        Assert.Equal(100UL, after.States[0].LastMessageId); // the bulk's first entry was not applied
        Assert.Equal(before.Version + 1, after.Version);

        var skipped = new List<ulong>();
        Assert.Equal(1, await _engine.AddMentionsAsync(60, 10, new ulong[] { 1, 2 }, default, skipped));
        Assert.Equal([1UL], skipped);
    }
}

public sealed class ZeroIdTests
{
    [Fact]
    public async Task ZeroIds_AreRejected_BeforeAnythingChanges()
    {
        var store = new MemoryStore();
        await using var engine = EngineTestKit.Create(store);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await engine.Ack(0, 1, 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await engine.Ack(1, 0, 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await engine.Mention(5, 10, 1, 0));
        Assert.Empty((await engine.GetAsync(1)).States);
        Assert.Equal(1, store.Loads); // only the Get loaded user 1: the rejected fan-out touched no one
    }
}
