using Google.Rpc;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>Every RPC through the generated client against the real service (Kestrel, h2c, RocksDB).</summary>
public sealed class ReadStatesServiceTests : IAsyncLifetime
{
    private const ulong Guild = 9_000;
    private readonly TempDir _dir = new();
    private RunningService _service = null!;
    private ReadStatesClient Client => _service.Client;

    public async Task InitializeAsync() => _service = await RunningService.StartAsync(_dir.Path, "Engine:MaxStatesPerUser=8");

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    private static StateAttributes InGuild(ulong parent = Guild) => new() { ParentId = parent, Flags = (uint)ReadStateFlag.GuildChannel };

    [Fact]
    public async Task Ack_CreatesState_IgnoresOlderAck_AndManualAckMovesBack()
    {
        var first = await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 10, MessageId = 500, Attributes = InGuild() });
        Assert.True(first.Applied);
        Assert.Equal(500UL, first.State.LastMessageId);
        Assert.Equal(Guild, first.State.ParentId);
        Assert.Equal((uint)ReadStateFlag.GuildChannel, first.State.Flags);
        Assert.True(first.State.Version > 0);

        var older = await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 10, MessageId = 400 });
        Assert.False(older.Applied);
        Assert.Equal(first.State, older.State);

        var manual = await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 10, MessageId = 400, Manual = true });
        Assert.True(manual.Applied);
        Assert.Equal(400UL, manual.State.LastMessageId);
        Assert.True(manual.State.Version > first.State.Version);
    }

    [Fact]
    public async Task BulkAck_AppliesEachEntryWithAcksRules_InOrder()
    {
        await Client.AckAsync(new AckRequest { UserId = 2, ChannelId = 20, MessageId = 300 });

        var response = await Client.BulkAckAsync(new BulkAckRequest
        {
            UserId = 2,
            Entries =
            {
                new BulkAckEntry { ChannelId = 20, MessageId = 200 },
                new BulkAckEntry { ChannelId = 21, MessageId = 210, Attributes = new StateAttributes { Type = ReadStateType.GuildEvent } },
                new BulkAckEntry { ChannelId = 20, MessageId = 350 },
            },
        });

        Assert.Equal([false, true, true], response.Results.Select(r => r.Applied));
        Assert.Equal(300UL, response.Results[0].State.LastMessageId);
        Assert.Equal(ReadStateType.GuildEvent, response.Results[1].State.Type);
        Assert.Equal(350UL, response.Results[2].State.LastMessageId);
    }

    [Fact]
    public async Task AckParent_MovesEveryStateOfTheParentForward_AndNoOther()
    {
        await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 30, MessageId = 100, Attributes = InGuild() });
        await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 31, MessageId = 900, Attributes = InGuild() });
        await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 32, MessageId = 100, Attributes = InGuild(Guild + 1) });

        var response = await Client.AckParentAsync(new AckParentRequest { UserId = 3, ParentId = Guild, MessageId = 500 });

        Assert.Equal(1U, response.Acked);
        var get = await Client.GetAsync(new GetRequest { UserId = 3 });
        Assert.Equal([500UL, 900UL, 100UL], get.States.Select(s => s.LastMessageId));
    }

    [Fact]
    public async Task AckPins_IsForwardOnly()
    {
        var first = await Client.AckPinsAsync(new AckPinsRequest { UserId = 4, ChannelId = 40, LastPinTimestamp = 1_700_000_000_000 });
        var older = await Client.AckPinsAsync(new AckPinsRequest { UserId = 4, ChannelId = 40, LastPinTimestamp = 1_600_000_000_000 });

        Assert.True(first.Applied);
        Assert.Equal(1_700_000_000_000, first.State.LastPinTimestamp);
        Assert.False(older.Applied);
        Assert.Equal(1_700_000_000_000, older.State.LastPinTimestamp);
    }

    [Fact]
    public async Task AddMentions_CountsOncePerUnreadUser_AndRemoveMentionsUncountsExactly()
    {
        await Client.AckAsync(new AckRequest { UserId = 5, ChannelId = 50, MessageId = 100, Attributes = InGuild() });
        await Client.AckAsync(new AckRequest { UserId = 6, ChannelId = 50, MessageId = 900, Attributes = InGuild() });
        var add = new AddMentionsRequest { ChannelId = 50, MessageId = 500, UserIds = { 5, 6, 7 }, Attributes = InGuild() };

        var counted = await Client.AddMentionsAsync(add);
        var retried = await Client.AddMentionsAsync(add);

        Assert.Equal(2U, counted.Counted); // user 6 has read past it; user 7 gets a new state
        Assert.Equal(0U, retried.Counted);
        Assert.Equal(1U, (await Client.GetAsync(new GetRequest { UserId = 5 })).States.Single().MentionCount);
        var user7 = await Client.GetAsync(new GetRequest { UserId = 7 });
        Assert.Equal(Guild, user7.States.Single().ParentId);
        Assert.Equal(1UL, user7.TotalMentions);

        var removed = await Client.RemoveMentionsAsync(new RemoveMentionsRequest { ChannelId = 50, MessageId = 500, UserIds = { 5, 6, 7 } });

        Assert.Equal(2U, removed.Uncounted);
        Assert.Equal(0U, (await Client.GetAsync(new GetRequest { UserId = 5 })).States.Single().MentionCount);
        Assert.Equal(0UL, (await Client.GetAsync(new GetRequest { UserId = 7 })).TotalMentions);
    }

    [Fact]
    public async Task Get_ReturnsStatesSortedByChannel_AndTotalsPerUserAndParent()
    {
        const ulong user = 8;
        await Client.AckAsync(new AckRequest { UserId = user, ChannelId = 82, MessageId = 10, Attributes = InGuild(Guild + 2) });
        await Client.AckAsync(new AckRequest { UserId = user, ChannelId = 81, MessageId = 10, Attributes = InGuild(Guild + 1) });
        await Client.AckAsync(new AckRequest { UserId = user, ChannelId = 80, MessageId = 10 });
        await Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 81, MessageId = 20, UserIds = { user } });
        await Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 81, MessageId = 21, UserIds = { user } });
        await Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 82, MessageId = 20, UserIds = { user } });

        var all = await Client.GetAsync(new GetRequest { UserId = user });
        var listed = await Client.GetAsync(new GetRequest { UserId = user, ChannelIds = { 82, 12345 } });

        Assert.Equal([80UL, 81UL, 82UL], all.States.Select(s => s.ChannelId));
        Assert.Equal(3UL, all.TotalMentions);
        Assert.Equal(2U, all.ChannelsWithMentions);
        Assert.Equal(all.States.Max(s => s.Version), all.Version);
        Assert.Equal([0UL, Guild + 1, Guild + 2], all.Parents.Select(p => p.ParentId));
        Assert.Equal([0U, 2U, 1U], all.Parents.Select(p => p.MentionCount));
        Assert.Equal([0U, 1U, 1U], all.Parents.Select(p => p.ChannelsWithMentions));

        Assert.Equal([82UL], listed.States.Select(s => s.ChannelId));
        Assert.Equal(3UL, listed.TotalMentions); // totals are over all of the user's states
        Assert.Equal(all.Version, listed.Version);
    }

    [Fact]
    public async Task Delete_DropsListedStates_ThenAll()
    {
        const ulong user = 9;
        foreach (ulong channel in new ulong[] { 90, 91, 92 })
            await Client.AckAsync(new AckRequest { UserId = user, ChannelId = channel, MessageId = 1 });

        var listed = await Client.DeleteAsync(new DeleteRequest { UserId = user, ChannelIds = { 91, 99 } });
        var afterListed = await Client.GetAsync(new GetRequest { UserId = user });
        var all = await Client.DeleteAsync(new DeleteRequest { UserId = user, All = true });
        var afterAll = await Client.GetAsync(new GetRequest { UserId = user });

        Assert.Equal(1U, listed.Deleted);
        Assert.Equal([90UL, 92UL], afterListed.States.Select(s => s.ChannelId));
        Assert.Equal(2U, all.Deleted);
        Assert.Empty(afterAll.States);
        Assert.True(afterAll.Version > afterListed.Version);
    }

    [Fact]
    public async Task StatesPerUserLimit_RefusesNewStates_WithBadRequest_AndSkipsMentions()
    {
        const ulong user = 11;
        for (ulong channel = 1; channel <= 8; channel++)
            await Client.AckAsync(new AckRequest { UserId = user, ChannelId = channel, MessageId = 1 });
        var before = await Client.GetAsync(new GetRequest { UserId = user });

        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.AckAsync(new AckRequest { UserId = user, ChannelId = 100, MessageId = 1 }).ResponseAsync);
        var mention = await Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 100, MessageId = 5, UserIds = { user, 12 } });

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("channel_id", ex.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations.Single().Field);
        Assert.Equal([user], mention.SkippedAtLimitUserIds);
        Assert.Equal(1U, mention.Counted);
        Assert.Equal(before, await Client.GetAsync(new GetRequest { UserId = user }));
    }

    [Fact]
    public async Task BulkAckPastTheStatesPerUserLimit_IsRefusedWhole_NamingEntries()
    {
        const ulong user = 13;
        for (ulong channel = 1; channel <= 6; channel++)
            await Client.AckAsync(new AckRequest { UserId = user, ChannelId = channel, MessageId = 1 });
        var before = await Client.GetAsync(new GetRequest { UserId = user });
        var bulk = new BulkAckRequest { UserId = user };
        bulk.Entries.Add(new BulkAckEntry { ChannelId = 1, MessageId = 50 }); // existing: would apply alone
        for (ulong channel = 100; channel < 103; channel++) bulk.Entries.Add(new BulkAckEntry { ChannelId = channel, MessageId = 1 });

        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.BulkAckAsync(bulk).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        // The entry that would pass the limit is named: the third new channel.
        Assert.Equal("entries[3].channel_id", ex.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations.Single().Field);
        Assert.Equal(before, await Client.GetAsync(new GetRequest { UserId = user }));
    }
}
