using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;

namespace ReadStates.Tests.RocksDb;

public sealed class RocksDbStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "readstates-rocks-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private RocksDbStore Open(bool sync = false) => new(new RocksDbStoreOptions { Path = _dir, Sync = sync, BlockCacheMb = 8 });

    private static ReadState State(ulong channel, ulong last, ulong version, int mentions = 0) => new()
    {
        ChannelId = channel,
        LastMessageId = last,
        ParentId = 500,
        Version = version,
        MentionCount = mentions,
        Type = ReadStateType.Channel,
        Flags = ReadStateFlags.GuildChannel,
        LastPinTimestamp = 1_700_000_000_000,
        LastViewed = 3,
    };

    private static async Task<StateBatch> LoadAsync(RocksDbStore store, ulong userId)
    {
        var batch = new StateBatch();
        await store.LoadUserAsync(userId, batch, CancellationToken.None);
        return batch;
    }

    [Fact]
    public async Task WrittenUsers_LoadBack_WithEveryField_SortedByChannel()
    {
        await using var store = Open();
        var batch = new StateBatch();
        batch.BeginUser(1, 12);
        batch.AddState(State(30, 300, 11, mentions: 3), 1, 399, [301, 302]);
        batch.AddState(State(10, 100, 12), 0, 0, []);
        batch.BeginUser(2, 5);
        batch.AddState(State(10, 110, 5), 0, 0, []);
        await store.WriteAsync(batch, CancellationToken.None);

        var user1 = await LoadAsync(store, 1);

        Assert.Equal(1, user1.UserCount);
        Assert.Equal(1UL, user1.Users[0].UserId);
        Assert.Equal(12UL, user1.Users[0].Version);
        var states = user1.StatesOf(user1.Users[0]).ToArray();
        Assert.Equal([10UL, 30UL], states.Select(s => s.State.ChannelId));
        var expected = State(30, 300, 11, mentions: 3);
        Assert.Equal(expected, states[1].State);
        Assert.Equal(1, states[1].OverflowCount);
        Assert.Equal(399UL, states[1].OverflowMaxId);
        Assert.Equal([301UL, 302UL], user1.MentionsOf(states[1]).ToArray());
        Assert.Equal(0, user1.MentionsOf(states[0]).Length);

        var user2 = await LoadAsync(store, 2);
        Assert.Equal(110UL, Assert.Single(user2.StatesOf(user2.Users[0]).ToArray()).State.LastMessageId);
    }

    [Fact]
    public async Task UnknownUser_LoadsEmpty_WithVersionZero()
    {
        await using var store = Open();

        var batch = await LoadAsync(store, 12345);

        Assert.Equal(1, batch.UserCount);
        Assert.Equal(0, batch.StateCount);
        Assert.Equal(0UL, batch.Users[0].Version);
    }

    [Fact]
    public async Task Tombstones_AboveTheFloor_AreKeptWithTheirVersionAndTime_AtOrBelowItPurged()
    {
        await using var store = Open();
        var write = new StateBatch();
        write.BeginUser(7, 2);
        write.AddState(State(1, 10, 1), 0, 0, []);
        write.AddState(State(2, 20, 2), 0, 0, []);
        await store.WriteAsync(write, CancellationToken.None);

        var delete = new StateBatch();
        delete.BeginUser(7, 9);
        delete.AddState(ReadState.Tombstone(1, 8, 1_700_000_000_000), 0, 0, []);
        delete.AddState(ReadState.Tombstone(2, 9, 1_700_000_000_500), 0, 0, []);
        await store.WriteAsync(delete, CancellationToken.None);

        var loaded = await LoadAsync(store, 7);
        Assert.Equal((9UL, 0UL), (loaded.Users[0].Version, loaded.Users[0].SyncFloor));
        Assert.Equal([(1UL, 8UL, 1_700_000_000_000L), (2UL, 9UL, 1_700_000_000_500L)],
            loaded.States.ToArray().Select(s => (s.State.ChannelId, s.State.Version, s.State.DeletedAt)));
        Assert.All(loaded.States.ToArray(), s => Assert.True(s.IsDeleted));

        // The floor passes the first tombstone: its row goes, the floor is kept in the meta row.
        var purge = new StateBatch();
        purge.BeginUser(7, 9);
        purge.RaiseSyncFloor(8);
        purge.AddState(ReadState.Tombstone(1, 8, 1_700_000_000_000), 0, 0, []);
        await store.WriteAsync(purge, CancellationToken.None);

        loaded = await LoadAsync(store, 7);
        Assert.Equal((9UL, 8UL), (loaded.Users[0].Version, loaded.Users[0].SyncFloor));
        Assert.Equal([2UL], loaded.States.ToArray().Select(s => s.State.ChannelId));
    }

    [Fact]
    public async Task MetaRowFromBeforeSyncFloors_LoadsWithTheFloorAtItsVersion()
    {
        await using (var store = Open()) { }
        // A v1 meta row: [1][version 5 as a varint]. Its deletions were physical, so history starts at 5.
        using (var db = RocksDbSharp.RocksDb.Open(new RocksDbSharp.DbOptions(), _dir))
        {
            var key = new byte[16];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(key, 3);
            db.Put(key, new byte[] { 1, 5 });
        }
        await using var reopened = Open();
        var loaded = await LoadAsync(reopened, 3);
        Assert.Equal((5UL, 5UL), (loaded.Users[0].Version, loaded.Users[0].SyncFloor));
    }

    [Fact]
    public async Task RewritingAState_ReplacesIt_AndRetriesAreIdempotent()
    {
        await using var store = Open();
        var batch = new StateBatch();
        batch.BeginUser(3, 4);
        batch.AddState(State(5, 50, 4, mentions: 1), 0, 0, [60]);
        await store.WriteAsync(batch, CancellationToken.None);
        batch.Clear();
        batch.BeginUser(3, 6);
        batch.AddState(State(5, 70, 6), 0, 0, []);
        await store.WriteAsync(batch, CancellationToken.None);
        await store.WriteAsync(batch, CancellationToken.None);

        var loaded = await LoadAsync(store, 3);

        var s = Assert.Single(loaded.States.ToArray());
        Assert.Equal(70UL, s.State.LastMessageId);
        Assert.Equal(0, s.State.MentionCount);
        Assert.Equal(0, s.MentionLength);
        Assert.Equal(6UL, loaded.Users[0].Version);
    }

    [Fact]
    public async Task NeighbouringUsers_DoNotLeakIntoEachOthersScan_AtTheEdgesOfTheIdRange()
    {
        await using var store = Open();
        var batch = new StateBatch();
        foreach (ulong user in new[] { 1UL, 2UL, ulong.MaxValue - 1, ulong.MaxValue })
        {
            batch.BeginUser(user, 1);
            batch.AddState(State(ulong.MaxValue, user, 1), 0, 0, []);
            batch.AddState(State(1, user, 1), 0, 0, []);
        }
        await store.WriteAsync(batch, CancellationToken.None);

        foreach (ulong user in new[] { 1UL, 2UL, ulong.MaxValue - 1, ulong.MaxValue })
        {
            var loaded = await LoadAsync(store, user);
            var states = loaded.States.ToArray();
            Assert.Equal([1UL, ulong.MaxValue], states.Select(s => s.State.ChannelId));
            Assert.All(states, s => Assert.Equal(user, s.State.LastMessageId));
        }
    }

    [Fact]
    public async Task ReopenedStore_HasEveryWrite_WithSyncOnAndOff()
    {
        foreach (bool sync in new[] { false, true })
        {
            ulong user = sync ? 20UL : 10UL;
            await using (var store = Open(sync))
            {
                var batch = new StateBatch();
                batch.BeginUser(user, 3);
                batch.AddState(State(100, 1000, 3, mentions: 2), 0, 0, [1001, 1002]);
                await store.WriteAsync(batch, CancellationToken.None);
            }
            await using (var reopened = Open(sync))
            {
                var loaded = await LoadAsync(reopened, user);
                var s = Assert.Single(loaded.States.ToArray());
                Assert.Equal(1000UL, s.State.LastMessageId);
                Assert.Equal([1001UL, 1002UL], loaded.MentionsOf(s).ToArray());
                Assert.Equal(3UL, loaded.Users[0].Version);
            }
        }
    }

    [Fact]
    public async Task DisposedStore_RefusesCalls()
    {
        var store = Open();
        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.LoadUserAsync(1, new StateBatch(), CancellationToken.None));
    }
}
