using Google.Rpc;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>Bad requests through the real service: INVALID_ARGUMENT, a BadRequest naming the field, and nothing changed.</summary>
public sealed class RequestValidationTests : IAsyncLifetime
{
    private const ulong User = 77;
    private readonly TempDir _dir = new();
    private RunningService _service = null!;
    private ReadStatesClient Client => _service.Client;

    public async Task InitializeAsync()
    {
        _service = await RunningService.StartAsync(_dir.Path,
            "Service:MaxBulkAckEntries=3", "Service:MaxMentionUsers=2", "Service:MaxChannelIds=2");
        await Client.AckAsync(new AckRequest { UserId = User, ChannelId = 1, MessageId = 100 });
        await Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 1, MessageId = 200, UserIds = { User } });
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>Runs the call, expects INVALID_ARGUMENT naming <paramref name="fields"/>, and checks the user is unchanged.</summary>
    private async Task AssertRejected<T>(Func<AsyncUnaryCall<T>> call, params string[] fields)
    {
        var before = await Client.GetAsync(new GetRequest { UserId = User });

        var ex = await Assert.ThrowsAsync<RpcException>(() => call().ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        var status = ex.GetRpcStatus();
        Assert.NotNull(status);
        Assert.Equal((int)Code.InvalidArgument, status.Code);
        Assert.False(string.IsNullOrWhiteSpace(status.Message));
        var badRequest = status.GetDetail<BadRequest>();
        Assert.NotNull(badRequest);
        Assert.Equal(fields, badRequest.FieldViolations.Select(v => v.Field));
        Assert.All(badRequest.FieldViolations, v => Assert.False(string.IsNullOrWhiteSpace(v.Description)));
        Assert.Equal(before, await Client.GetAsync(new GetRequest { UserId = User }));
    }

    [Fact]
    public Task Ack_WithZeroIds_IsRejected_NamingEachField() =>
        AssertRejected(() => Client.AckAsync(new AckRequest()), "user_id", "channel_id", "message_id");

    [Fact]
    public Task Ack_WithUnknownType_IsRejected() =>
        AssertRejected(() => Client.AckAsync(new AckRequest
        {
            UserId = User, ChannelId = 1, MessageId = 300, Manual = true,
            Attributes = new StateAttributes { Type = (ReadStateType)6 },
        }), "attributes.type");

    [Fact]
    public Task Ack_WithUnknownFlagBits_IsRejected() =>
        AssertRejected(() => Client.AckAsync(new AckRequest
        {
            UserId = User, ChannelId = 1, MessageId = 300,
            Attributes = new StateAttributes { Flags = (uint)ReadStateFlag.Thread | 0x80 },
        }), "attributes.flags");

    [Fact]
    public Task BulkAck_OverTheEntryLimit_IsRejected_AndNoEntryApplies() =>
        AssertRejected(() => Client.BulkAckAsync(new BulkAckRequest
        {
            UserId = User,
            Entries = { Enumerable.Range(1, 4).Select(i => new BulkAckEntry { ChannelId = 1, MessageId = 1000 + (ulong)i }) },
        }), "entries");

    [Fact]
    public Task BulkAck_WithOneBadEntry_IsRejected_AndTheGoodEntriesDoNotApply() =>
        AssertRejected(() => Client.BulkAckAsync(new BulkAckRequest
        {
            UserId = User,
            Entries =
            {
                new BulkAckEntry { ChannelId = 1, MessageId = 5000 },
                new BulkAckEntry { ChannelId = 2, MessageId = 0 },
                new BulkAckEntry { ChannelId = 3, MessageId = 1, Attributes = new StateAttributes { Type = (ReadStateType)99 } },
            },
        }), "entries[1].message_id", "entries[2].attributes.type");

    [Fact]
    public Task AckParent_WithZeroParent_IsRejected() =>
        AssertRejected(() => Client.AckParentAsync(new AckParentRequest { UserId = User, MessageId = 5000 }), "parent_id");

    [Fact]
    public Task AckPins_WithoutTimestamp_IsRejected() =>
        AssertRejected(() => Client.AckPinsAsync(new AckPinsRequest { UserId = User, ChannelId = 1 }), "last_pin_timestamp");

    [Fact]
    public Task AckPins_PastThe48BitTimestampRange_IsRejected() =>
        AssertRejected(() => Client.AckPinsAsync(new AckPinsRequest { UserId = User, ChannelId = 1, LastPinTimestamp = 1L << 48 }), "last_pin_timestamp");

    [Fact]
    public Task LastViewed_OutsideItsRange_IsRejected_WhereverItAppears() =>
        AssertRejected(() => Client.BulkAckAsync(new BulkAckRequest
        {
            UserId = User,
            Entries =
            {
                new BulkAckEntry { ChannelId = 1, MessageId = 5000, Attributes = new StateAttributes { LastViewed = 65_536 } },
                new BulkAckEntry { ChannelId = 1, MessageId = 5001, Attributes = new StateAttributes { LastViewed = -1 } },
                new BulkAckEntry { ChannelId = 1, MessageId = 5002, Attributes = new StateAttributes { LastViewed = 65_535 } },
            },
        }), "entries[0].attributes.last_viewed", "entries[1].attributes.last_viewed");

    [Fact]
    public Task AddMentions_OverTheUserLimit_IsRejected() =>
        AssertRejected(() => Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 1, MessageId = 300, UserIds = { User, 2, 3 } }), "user_ids");

    [Fact]
    public Task AddMentions_WithAZeroUser_IsRejected() =>
        AssertRejected(() => Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 1, MessageId = 300, UserIds = { User, 0 } }), "user_ids[1]");

    [Fact]
    public Task RemoveMentions_OverTheUserLimit_IsRejected() =>
        AssertRejected(() => Client.RemoveMentionsAsync(new RemoveMentionsRequest { ChannelId = 1, MessageId = 200, UserIds = { User, 2, 3 } }), "user_ids");

    [Fact]
    public Task Get_OverTheChannelLimit_IsRejected() =>
        AssertRejected(() => Client.GetAsync(new GetRequest { UserId = User, ChannelIds = { 1, 2, 3 } }), "channel_ids");

    [Fact]
    public Task Get_WithZeroUser_IsRejected() =>
        AssertRejected(() => Client.GetAsync(new GetRequest()), "user_id");

    [Fact]
    public Task Delete_OverTheChannelLimit_IsRejected() =>
        AssertRejected(() => Client.DeleteAsync(new DeleteRequest { UserId = User, ChannelIds = { 1, 2, 3 } }), "channel_ids");

    [Fact]
    public Task Delete_AllWithListedChannels_IsRejectedAsAmbiguous() =>
        AssertRejected(() => Client.DeleteAsync(new DeleteRequest { UserId = User, ChannelIds = { 1 }, All = true }), "channel_ids");

    [Fact]
    public async Task RequestsAtTheLimits_AreAccepted()
    {
        var bulk = await Client.BulkAckAsync(new BulkAckRequest
        {
            UserId = User,
            Entries = { Enumerable.Range(1, 3).Select(i => new BulkAckEntry { ChannelId = 10 + (ulong)i, MessageId = 1 }) },
        });
        var get = await Client.GetAsync(new GetRequest { UserId = User, ChannelIds = { 11, 12 } });

        Assert.Equal(3, bulk.Results.Count);
        Assert.Equal(2, get.States.Count);
    }
}
