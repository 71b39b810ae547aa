using Google.Rpc;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>Get since a version, conditional writes and tombstone retention through the real service: statuses, details, and nothing changed.</summary>
public sealed class SyncApiTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private RunningService _service = null!;
    private ReadStatesClient Client => _service.Client;

    public async Task InitializeAsync() => _service = await RunningService.StartAsync(_dir.Path, "Engine:FlushInterval=00:00:00.050");

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<RpcException> RejectedUnchanged<T>(ulong user, Func<AsyncUnaryCall<T>> call, StatusCode code)
    {
        var before = await Client.GetAsync(new GetRequest { UserId = user });
        var ex = await Assert.ThrowsAsync<RpcException>(() => call().ResponseAsync);
        Assert.Equal(code, ex.StatusCode);
        Assert.Equal(before, await Client.GetAsync(new GetRequest { UserId = user }));
        return ex;
    }

    [Fact]
    public async Task GetSince_ReturnsChangesAndDeletions_ForResidentAndReloadedUsers_AndAfterARestart()
    {
        await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 10, MessageId = 100 });
        await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 11, MessageId = 100 });
        await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 12, MessageId = 100 });
        await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 11, MessageId = 200 });
        await Client.DeleteAsync(new DeleteRequest { UserId = 1, ChannelIds = { 12 } });

        var expected = new GetResponse
        {
            Version = 5, Sync = SyncStatus.Changes, SyncFloor = 0,
            Deleted = { new DeletedState { ChannelId = 12, Version = 5 } },
        };
        var changes = await Client.GetAsync(new GetRequest { UserId = 1, SinceVersion = 3 });
        Assert.Equal([11UL], changes.States.Select(s => s.ChannelId));
        Assert.Equal(expected.Deleted, changes.Deleted);
        Assert.Equal((5UL, SyncStatus.Changes, 0UL), (changes.Version, changes.Sync, changes.SyncFloor));

        await _service.DisposeAsync();
        var restarted = _service = await RunningService.StartAsync(_dir.Path);
        // Not resident after the restart: loaded from RocksDB, tombstone included.
        var again = await restarted.Client.GetAsync(new GetRequest { UserId = 1, SinceVersion = 3 });
        Assert.Equal(changes, again);
        var none = await restarted.Client.GetAsync(new GetRequest { UserId = 1, SinceVersion = 5 });
        Assert.Equal((SyncStatus.Changes, 0, 0), (none.Sync, none.States.Count, none.Deleted.Count));
        var listed = await restarted.Client.GetAsync(new GetRequest { UserId = 1, SinceVersion = 0, ChannelIds = { 12, 10 } });
        Assert.Equal([10UL], listed.States.Select(s => s.ChannelId));
        Assert.Equal([12UL], listed.Deleted.Select(d => d.ChannelId));
    }

    [Fact]
    public async Task GetSince_AVersionFromTheFuture_IsOutOfRange_WithTheCurrentVersion()
    {
        await Client.AckAsync(new AckRequest { UserId = 2, ChannelId = 10, MessageId = 100 });
        var ex = await RejectedUnchanged(2, () => Client.GetAsync(new GetRequest { UserId = 2, SinceVersion = 7 }), StatusCode.OutOfRange);
        var status = ex.GetRpcStatus()!;
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal(("SINCE_VERSION_AHEAD", "readstates.v1", "1", "7"), (info.Reason, info.Domain, info.Metadata["currentVersion"], info.Metadata["sinceVersion"]));
        Assert.Equal("since_version", Assert.Single(status.GetDetail<BadRequest>().FieldViolations).Field);

        // A user never seen is at version 0: since 0 answers (nothing), since 1 is ahead.
        var unknown = await Client.GetAsync(new GetRequest { UserId = 999, SinceVersion = 0 });
        Assert.Equal((SyncStatus.Changes, 0UL), (unknown.Sync, unknown.Version));
        await RejectedUnchanged(999, () => Client.GetAsync(new GetRequest { UserId = 999, SinceVersion = 1 }), StatusCode.OutOfRange);
    }

    [Fact]
    public async Task StaleExpectedVersions_AreAborted_WithErrorInfoAndPreconditionFailure_AndChangeNothing()
    {
        var created = await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 10, MessageId = 100 });
        await Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 10, MessageId = 150, UserIds = { 3 } }); // another device's news

        // A stale device tries to mark unread: its expected version is the one it saw, before the mention.
        var ex = await RejectedUnchanged(3, () => Client.AckAsync(new AckRequest
            { UserId = 3, ChannelId = 10, MessageId = 50, Manual = true, ExpectedVersion = created.State.Version }), StatusCode.Aborted);
        var status = ex.GetRpcStatus()!;
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal(("VERSION_MISMATCH", "readstates.v1"), (info.Reason, info.Domain));
        Assert.Equal(("3", "10", "1", "2"), (info.Metadata["userId"], info.Metadata["channelId"], info.Metadata["expectedVersion"], info.Metadata["currentVersion"]));
        var violation = Assert.Single(status.GetDetail<PreconditionFailure>().Violations);
        Assert.Equal(("VERSION", "users/3/channels/10"), (violation.Type, violation.Subject));

        var bulk = await RejectedUnchanged(3, () => Client.BulkAckAsync(new BulkAckRequest
        {
            UserId = 3,
            Entries = { new BulkAckEntry { ChannelId = 11, MessageId = 5 }, new BulkAckEntry { ChannelId = 10, MessageId = 500, ExpectedVersion = 1 } },
        }), StatusCode.Aborted);
        Assert.Equal("1", bulk.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["entryIndex"]);
        await RejectedUnchanged(3, () => Client.AckPinsAsync(new AckPinsRequest { UserId = 3, ChannelId = 10, LastPinTimestamp = 5, ExpectedVersion = 0 }), StatusCode.Aborted);
        var parent = await RejectedUnchanged(3, () => Client.AckParentAsync(new AckParentRequest { UserId = 3, ParentId = 9, MessageId = 900, ExpectedUserVersion = 1 }), StatusCode.Aborted);
        Assert.Equal("users/3", parent.GetRpcStatus()!.GetDetail<PreconditionFailure>().Violations[0].Subject);
        await RejectedUnchanged(3, () => Client.DeleteAsync(new DeleteRequest { UserId = 3, ChannelIds = { 10 }, ExpectedVersions = { 1 } }), StatusCode.Aborted);
        await RejectedUnchanged(3, () => Client.DeleteAsync(new DeleteRequest { UserId = 3, All = true, ExpectedUserVersion = 1 }), StatusCode.Aborted);
        var wrongLength = await RejectedUnchanged(3, () => Client.DeleteAsync(new DeleteRequest { UserId = 3, ChannelIds = { 10 }, ExpectedVersions = { 2, 2 } }), StatusCode.InvalidArgument);
        Assert.Equal("expected_versions", wrongLength.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations[0].Field);

        // With the current versions, the same calls apply.
        var manual = await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 10, MessageId = 120, Manual = true, ExpectedVersion = 2 });
        Assert.Equal((120UL, 1U), (manual.State.LastMessageId, manual.State.MentionCount));
        var deleted = await Client.DeleteAsync(new DeleteRequest { UserId = 3, ChannelIds = { 10 }, ExpectedVersions = { manual.State.Version } });
        Assert.Equal(1U, deleted.Deleted);
    }

    [Fact]
    public async Task TombstonesPastTheRetention_AreCompacted_SoAnOlderSinceIsAResync_AlsoAfterARestart()
    {
        using var dir = new TempDir();
        string[] settings = ["Engine:TombstoneRetention=00:00:01", "Engine:FlushInterval=00:00:00.050"];
        ulong floor;
        await using (var service = await RunningService.StartAsync(dir.Path, settings))
        {
            var client = service.Client;
            await client.AckAsync(new AckRequest { UserId = 4, ChannelId = 1, MessageId = 1 });
            await client.AckAsync(new AckRequest { UserId = 4, ChannelId = 2, MessageId = 1 });
            await client.DeleteAsync(new DeleteRequest { UserId = 4, ChannelIds = { 1 } });
            Assert.Equal(SyncStatus.Changes, (await client.GetAsync(new GetRequest { UserId = 4, SinceVersion = 2 })).Sync);
            // The sweep runs every retention / 8: within a few seconds the tombstone (version 3) is gone.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            GetResponse answer;
            while ((answer = await client.GetAsync(new GetRequest { UserId = 4, SinceVersion = 2 })).Sync != SyncStatus.ResyncRequired)
            {
                Assert.True(DateTime.UtcNow < deadline, "the tombstone was not compacted");
                await Task.Delay(100);
            }
            floor = answer.SyncFloor;
            Assert.Equal(3UL, floor);
            Assert.Empty(answer.States);
            var fromFloor = await client.GetAsync(new GetRequest { UserId = 4, SinceVersion = floor });
            Assert.Equal((SyncStatus.Changes, 0), (fromFloor.Sync, fromFloor.Deleted.Count));
        }
        await using var restarted = await RunningService.StartAsync(dir.Path, settings);
        var reloaded = await restarted.Client.GetAsync(new GetRequest { UserId = 4, SinceVersion = 2 });
        Assert.Equal((SyncStatus.ResyncRequired, floor), (reloaded.Sync, reloaded.SyncFloor));
        Assert.Equal([2UL], (await restarted.Client.GetAsync(new GetRequest { UserId = 4 })).States.Select(s => s.ChannelId));
    }
}
