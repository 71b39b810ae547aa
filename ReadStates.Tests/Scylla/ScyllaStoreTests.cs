using System.Net;
using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Cql;
using ReadStates.Tests.Cql.Server;
using static ReadStates.Tests.Scylla.ScyllaTestSupport;

namespace ReadStates.Tests.Scylla;

/// <summary>The ScyllaDB store against the loopback CQL server, over real sockets.</summary>
public class ScyllaStoreTests
{
    [Fact]
    public async Task Create_MakesKeyspaceWithTabletsDisabled_AndTheDesignTable()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server, o => o.ReplicationFactor = 3);
        var ddl = server.Requests.Select(r => r.Query).Where(q => q.StartsWith("CREATE", StringComparison.Ordinal)).ToList();
        Assert.Equal("CREATE KEYSPACE IF NOT EXISTS readstates WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3} AND tablets = {'enabled': false}", ddl[0]);
        var schema = server.Tables.Schema("readstates", "read_states")!;
        Assert.Equal(["user_id"], schema.PartitionKey);
        Assert.Equal(["channel_id"], schema.ClusteringKey);
        Assert.Equal(
            "user_id:bigint channel_id:bigint last_message_id:bigint mention_count:int mention_ids:blob type:tinyint parent_id:bigint flags:int last_pin_timestamp:timestamp last_viewed:int version:bigint sync_floor:bigint",
            string.Join(' ', schema.Columns.Select(c => $"{c.Name}:{c.Type}")));
        // A second store over existing schema is fine (IF NOT EXISTS).
        await using var again = await CreateAsync(server);
    }

    [Fact]
    public async Task Create_OnAServerWithoutTablets_RetriesTheKeyspaceWithoutTheOption()
    {
        await using var server = new CqlTestServer(new CqlTestServerOptions { RejectTablets = true });
        await using var store = await CreateAsync(server);
        var keyspaces = server.Requests.Select(r => r.Query).Where(q => q.StartsWith("CREATE KEYSPACE", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, keyspaces.Count);
        Assert.EndsWith("{'class': 'NetworkTopologyStrategy', 'dc1': 1}", keyspaces[1], StringComparison.Ordinal);
        var batch = new StateBatch();
        AddUser(batch, 1, count: 1, version: 1);
        await store.WriteAsync(batch, Timeout());
    }

    [Fact]
    public async Task WriteThenLoad_RoundTripsEveryField_SortedByChannel_WithUserVersion()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server);
        var batch = new StateBatch();
        batch.BeginUser(77, 42);
        batch.AddState(State(900, 40, lastMessage: 5000, mentions: 3, type: ReadStateType.GuildEvent, parent: 12, flags: ReadStateFlags.Thread | ReadStateFlags.LowImportanceMention, pin: 1_700_000_000_123, viewed: 19000),
            overflowCount: 1, overflowMaxId: 7777, [6001, 6002]);
        batch.AddState(State(5, 41, lastMessage: 1), 0, 0, []);
        batch.AddState(State(ulong.MaxValue - 1, 42, lastMessage: ulong.MaxValue), 0, 0, [ulong.MaxValue]);
        await store.WriteAsync(batch, Timeout());

        var loaded = await LoadAsync(store, 77);
        var user = Assert.Single(loaded.Users.ToArray());
        Assert.Equal(42UL, user.Version);
        var states = loaded.StatesOf(user).ToArray();
        Assert.Equal([5UL, 900UL, ulong.MaxValue - 1], states.Select(s => s.State.ChannelId));
        var s900 = states[1];
        Assert.Equal(5000UL, s900.State.LastMessageId);
        Assert.Equal(3, s900.State.MentionCount);
        Assert.Equal(ReadStateType.GuildEvent, s900.State.Type);
        Assert.Equal(12UL, s900.State.ParentId);
        Assert.Equal(ReadStateFlags.Thread | ReadStateFlags.LowImportanceMention, s900.State.Flags);
        Assert.Equal(1_700_000_000_123, s900.State.LastPinTimestamp);
        Assert.Equal(19000, s900.State.LastViewed);
        Assert.Equal(40UL, s900.State.Version);
        Assert.Equal(1, s900.OverflowCount);
        Assert.Equal(7777UL, s900.OverflowMaxId);
        Assert.Equal([6001UL, 6002UL], loaded.MentionsOf(s900).ToArray());
        Assert.Equal([ulong.MaxValue], loaded.MentionsOf(states[2]).ToArray());
        Assert.Equal(ulong.MaxValue, states[2].State.LastMessageId);
        Assert.Equal(0, server.Tables.CountNullCells("readstates", "read_states"));

        var empty = await LoadAsync(store, 78);
        Assert.Equal(0, Assert.Single(empty.Users.ToArray()).StateCount);
    }

    [Fact]
    public async Task EachUser_IsOneUnloggedBatchOnItsPartition_WithAClientTimestamp_AndTheMetaRowUsesUnset()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server);
        var batch = new StateBatch();
        for (ulong u = 1; u <= 20; u++) AddUser(batch, u, count: (int)u, version: u * 10);
        long before = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
        await store.WriteAsync(batch, Timeout());

        var batches = server.Batches.ToArray();
        Assert.Equal(20, batches.Length);
        Assert.All(batches, b =>
        {
            Assert.Equal(CqlBatchType.Unlogged, b.Type);
            Assert.Equal(1, b.Partitions);
            Assert.InRange(b.Timestamp, before, before + 60_000_000);
        });
        Assert.Equal(Enumerable.Range(1, 20).Select(u => u + 1).Order(), batches.Select(b => b.Statements).Order());
        Assert.Equal(20, batches.Select(b => b.Timestamp).Distinct().Count());

        for (ulong u = 1; u <= 20; u++) AssertUser(await LoadAsync(store, u), u, (int)u, u * 10);
        // The meta row (channel 0) holds only the version and sync floor: the unset columns were never written, not even as null.
        var meta = server.Tables.Read(server.Tables.Schema("readstates", "read_states")!, [BigEndian(5)], [BigEndian(0)]);
        Assert.Equal(["channel_id", "sync_floor", "user_id", "version"], Assert.Single(meta).Keys.Order());
        Assert.Equal(0, server.Tables.CountNullCells("readstates", "read_states"));
    }

    private static byte[] BigEndian(long v)
    {
        var b = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(b, v);
        return b;
    }

    [Fact]
    public async Task DeletedStates_AtOrBelowTheFloor_BecomeDeletes_AndALaterWriteWins()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server);
        var batch = new StateBatch();
        AddUser(batch, 9, count: 5, version: 1);
        await store.WriteAsync(batch, Timeout());

        batch.Clear();
        batch.BeginUser(9, 2);
        batch.RaiseSyncFloor(2);
        batch.AddState(Deleted(1001, 2), 0, 0, []);
        batch.AddState(Deleted(1003, 2), 0, 0, []);
        batch.AddState(Deleted(5555, 2), 0, 0, []); // never existed: still fine
        await store.WriteAsync(batch, Timeout());

        var loaded = await LoadAsync(store, 9);
        var user = Assert.Single(loaded.Users.ToArray());
        Assert.Equal((2UL, 2UL), (user.Version, user.SyncFloor));
        Assert.Equal([1000UL, 1002UL, 1004UL], loaded.StatesOf(user).ToArray().Select(s => s.State.ChannelId));
        Assert.Contains(server.Requests, r => r.Query.StartsWith("DELETE FROM readstates.read_states WHERE user_id = ? AND channel_id = ?", StringComparison.Ordinal));

        // Re-created after the delete: the newer client timestamp wins over the tombstone.
        batch.Clear();
        batch.BeginUser(9, 3);
        batch.AddState(State(1001, 3, lastMessage: 99), 0, 0, []);
        await store.WriteAsync(batch, Timeout());
        loaded = await LoadAsync(store, 9);
        Assert.Equal(99UL, loaded.States.ToArray().Single(s => s.State.ChannelId == 1001).State.LastMessageId);
    }

    [Fact]
    public async Task DeletedStates_AboveTheFloor_AreTombstoneRows_WithoutNulls_AndLoadBack()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server);
        var batch = new StateBatch();
        AddUser(batch, 9, count: 3, version: 1);
        await store.WriteAsync(batch, Timeout());

        batch.Clear();
        batch.BeginUser(9, 4);
        batch.AddState(ReadState.Tombstone(1001, 4, 1_700_000_000_123), 0, 0, []);
        await store.WriteAsync(batch, Timeout());

        var loaded = await LoadAsync(store, 9);
        var user = Assert.Single(loaded.Users.ToArray());
        Assert.Equal((4UL, 0UL), (user.Version, user.SyncFloor));
        var states = loaded.StatesOf(user).ToArray();
        Assert.Equal([1000UL, 1001UL, 1002UL], states.Select(s => s.State.ChannelId));
        Assert.True(states[1].IsDeleted);
        Assert.Equal((4UL, 1_700_000_000_123L, 0UL, 0), (states[1].State.Version, states[1].State.DeletedAt, states[1].State.LastMessageId, states[1].State.MentionCount));
        Assert.Empty(loaded.MentionsOf(states[1]).ToArray());
        Assert.False(states[0].IsDeleted);
        Assert.Equal(0, server.Tables.CountNullCells("readstates", "read_states"));
        Assert.DoesNotContain(server.Requests, r => r.Query.StartsWith("DELETE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ATableFromBeforeSyncFloors_GetsTheColumn_AndItsMetaRowsLoadWithTheFloorAtTheirVersion()
    {
        await using var server = new CqlTestServer();
        // The schema and a meta row as an older ReadStates left them: no sync_floor column.
        await using (var raw = await CqlSession.ConnectAsync(Options(server).ToClientOptions(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, Timeout()))
        {
            var ddl = CqlRequestOptions.Default(CqlConsistency.One);
            (await raw.QueryAsync("CREATE KEYSPACE readstates WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 1}", null, ddl, Timeout()))?.Dispose();
            (await raw.QueryAsync("CREATE TABLE readstates.read_states (user_id bigint, channel_id bigint, last_message_id bigint, mention_count int, " +
                "mention_ids blob, type tinyint, parent_id bigint, flags int, last_pin_timestamp timestamp, last_viewed int, version bigint, " +
                "PRIMARY KEY ((user_id), channel_id))", null, ddl, Timeout()))?.Dispose();
            (await raw.QueryAsync("INSERT INTO readstates.read_states (user_id, channel_id, version) VALUES (5, 0, 12)", null, ddl, Timeout()))?.Dispose();
        }
        await using var store = await CreateAsync(server);
        Assert.True(server.Tables.Schema("readstates", "read_states")!.Has("sync_floor"));
        var loaded = await LoadAsync(store, 5);
        Assert.Equal((12UL, 12UL), (loaded.Users[0].Version, loaded.Users[0].SyncFloor));

        // Connecting again finds the column there and carries on.
        await using var again = await CreateAsync(server);
        Assert.Equal(12UL, (await LoadAsync(again, 5)).Users[0].SyncFloor);
    }

    [Fact]
    public async Task SameChannelTwiceInOneUser_KeepsTheLastOne()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server);
        var batch = new StateBatch();
        batch.BeginUser(3, 5);
        batch.AddState(State(10, 4, lastMessage: 1), 0, 0, []);
        batch.AddState(State(10, 5, lastMessage: 2), 0, 0, []);
        await store.WriteAsync(batch, Timeout());
        var loaded = await LoadAsync(store, 3);
        Assert.Equal(2UL, Assert.Single(loaded.States.ToArray()).State.LastMessageId);
    }

    [Fact]
    public async Task LargeUser_IsSplitIntoBoundedBatches_AndLoadsAcrossPages()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server, o =>
        {
            o.MaxStatementsPerBatch = 16;
            o.PageSize = 7;
        });
        var batch = new StateBatch();
        AddUser(batch, 11, count: 40, version: 8);
        await store.WriteAsync(batch, Timeout());
        Assert.All(server.Batches, b => Assert.InRange(b.Statements, 1, 16));
        Assert.Equal(41, server.Batches.Sum(b => b.Statements));

        int selectsBefore = server.Requests.Count(r => r.Query.StartsWith("SELECT channel_id", StringComparison.Ordinal));
        AssertUser(await LoadAsync(store, 11), 11, 40, 8);
        int pages = server.Requests.Count(r => r.Query.StartsWith("SELECT channel_id", StringComparison.Ordinal)) - selectsBefore;
        Assert.Equal(6, pages); // 41 rows (with the meta row) at 7 per page
    }

    [Fact]
    public async Task UsersWithManyMentionIds_AreSplitByBytes_AndRoundTrip()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server, o => o.MaxBatchBytes = 8 * 1024);
        var batch = new StateBatch();
        batch.BeginUser(5, 9);
        var ids = Enumerable.Range(0, 1000).Select(i => 1_300_000_000_000_000_000UL + (ulong)i * 4_194_304).ToArray();
        for (ulong c = 1; c <= 10; c++) batch.AddState(State(c, 9, mentions: 1000), 1, ids[^1] + 1, ids);
        await store.WriteAsync(batch, Timeout());
        Assert.True(server.Batches.Count >= 3, $"{server.Batches.Count} batches");
        Assert.Equal(11, server.Batches.Sum(b => b.Statements));
        var loaded = await LoadAsync(store, 5);
        Assert.Equal(10, loaded.StateCount);
        Assert.All(loaded.States.ToArray(), s =>
        {
            Assert.Equal(ids, loaded.MentionsOf(s).ToArray());
            Assert.Equal((1, ids[^1] + 1), (s.OverflowCount, s.OverflowMaxId));
        });
    }

    [Fact]
    public async Task ServerRestartMidFlush_ForgettingPreparedIds_LosesNothing()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server, o => o.WriteConcurrency = 4);
        var batch = new StateBatch();
        for (ulong u = 1; u <= 200; u++) AddUser(batch, u, count: 3, version: u);
        server.DelayReplies(30, TimeSpan.FromMilliseconds(30));
        var write = store.WriteAsync(batch, Timeout());
        await Task.Delay(60);
        int preparesBefore = server.PrepareCount;
        server.Restart();
        await write.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(server.PrepareCount > preparesBefore, "the store must have re-prepared after the restart");
        for (ulong u = 1; u <= 200; u += 13) AssertUser(await LoadAsync(store, u), u, 3, u);
        Assert.Equal(200 * 4, server.Tables.CountRows("readstates", "read_states"));
    }

    [Fact]
    public async Task DroppedConnection_DuringAWrite_IsRetriedTransparently()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server);
        var batch = new StateBatch();
        for (ulong u = 1; u <= 50; u++) AddUser(batch, u, count: 2, version: 1);
        server.DelayReplies(50, TimeSpan.FromMilliseconds(100));
        var write = store.WriteAsync(batch, Timeout());
        await Task.Delay(30);
        server.DropConnections();
        await write.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(50 * 3, server.Tables.CountRows("readstates", "read_states"));
    }

    [Fact]
    public async Task SlowReply_TimesOut_ThenTheRetrySucceeds()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server, o => o.RequestTimeout = TimeSpan.FromSeconds(3));
        var batch = new StateBatch();
        AddUser(batch, 1, count: 3, version: 4);
        server.DelayReplies(1, TimeSpan.FromSeconds(10));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await store.WriteAsync(batch, Timeout());
        Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(2.9), TimeSpan.FromSeconds(9.5));
        Assert.Equal(2, server.Batches.Count); // the slow one (applied, reply late) and the retry: same timestamp, same cells
        Assert.Single(server.Batches.Select(b => b.Timestamp).Distinct());
        AssertUser(await LoadAsync(store, 1), 1, 3, 4);
    }

    [Fact]
    public async Task PersistentServerFailure_Throws_AndTheEngineRetryThenSucceeds()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server, o => o.MaxRetries = 1);
        var batch = new StateBatch();
        AddUser(batch, 1, count: 3, version: 4);
        server.FailNext(1000, CqlErrorCode.Overloaded);
        var ex = await Assert.ThrowsAsync<CqlServerException>(() => store.WriteAsync(batch, Timeout()));
        Assert.True(ex.IsTransient);
        await Assert.ThrowsAnyAsync<CqlException>(() => store.LoadUserAsync(1, new StateBatch(), Timeout()));
        server.FailNext(0);
        await store.WriteAsync(batch, Timeout());
        AssertUser(await LoadAsync(store, 1), 1, 3, 4);
    }

    [Fact]
    public async Task LoadFailingOnALaterPage_LeavesTheBatchUntouched()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server, o =>
        {
            o.PageSize = 4;
            o.MaxRetries = 1;
        });
        var batch = new StateBatch();
        AddUser(batch, 1, count: 10, version: 2);
        await store.WriteAsync(batch, Timeout());

        var into = new StateBatch();
        AddUser(into, 500, count: 2, version: 1);
        server.FailNext(10, CqlErrorCode.ReadTimeout, afterSuccesses: 1);
        await Assert.ThrowsAsync<CqlServerException>(() => store.LoadUserAsync(1, into, Timeout()));
        Assert.Equal(1, into.UserCount);
        Assert.Equal(2, into.StateCount);

        server.FailNext(0);
        await store.LoadUserAsync(1, into, Timeout());
        Assert.Equal(2, into.UserCount);
        Assert.Equal(12, into.StateCount);
        Assert.Equal(2UL, into.Users[1].Version);
    }

    [Fact]
    public async Task LazyStore_ConnectsOnFirstUse_FailsTransientlyWhileTheServerIsDown_ThenRecovers()
    {
        int port;
        using (var probe = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }
        var options = new ReadStates.Storage.Scylla.ScyllaOptions { ContactPoints = ["127.0.0.1"], Port = port, ReplicationFactor = 1, ConnectTimeout = TimeSpan.FromSeconds(15) };
        await using var store = ReadStates.Storage.Scylla.ScyllaStore.Create(options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var batch = new StateBatch();
        AddUser(batch, 1, count: 2, version: 3);
        var down = await Assert.ThrowsAnyAsync<CqlException>(() => store.WriteAsync(batch, Timeout()));
        Assert.True(down.IsTransient);

        await using var server = new CqlTestServer(new CqlTestServerOptions { Port = port });
        Assert.Equal(0, server.ConnectionsAccepted);
        await Task.Delay(1100); // past the fail-fast second
        await store.WriteAsync(batch, Timeout());
        AssertUser(await LoadAsync(store, 1), 1, 2, 3);
    }

    [Fact]
    public async Task Credentials_ArePassedToPasswordAuthenticator()
    {
        await using var server = new CqlTestServer(new CqlTestServerOptions { Username = "rs", Password = "pw" });
        await using var store = await CreateAsync(server, o => { o.Username = "rs"; o.Password = "pw"; });
        var batch = new StateBatch();
        AddUser(batch, 1, count: 2, version: 1);
        await store.WriteAsync(batch, Timeout());
        AssertUser(await LoadAsync(store, 1), 1, 2, 1);
    }

    [Fact]
    public async Task ShardAwareServer_EachUsersRequestsArriveOnTheShardOwningItsToken()
    {
        await using var server = new CqlTestServer(new CqlTestServerOptions { ShardCount = 12, ShardingIgnoreMsb = 12 });
        await using var store = await CreateAsync(server);
        var batch = new StateBatch();
        for (ulong u = 40; u < 70; u++) AddUser(batch, u, count: 1, version: 1);
        await store.WriteAsync(batch, Timeout());
        Assert.Equal(30, server.Batches.Count);
        foreach (var b in server.Batches)
        {
            long user = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(Convert.FromHexString(b.PartitionKey));
            Assert.Equal(ScyllaSharding.ShardOf(Murmur3.Token(user), 12, 12), b.Shard);
        }
        Assert.Equal(9, server.Batches.Single(b => b.PartitionKey == "000000000000002A").Shard);
        Assert.True(server.ConnectionsAccepted > 1);
    }

    [Fact]
    public async Task ShardAwarePortUnreachable_FallsBackToTheRegularPort()
    {
        await using var server = new CqlTestServer(new CqlTestServerOptions { ShardCount = 4 });
        server.CloseShardAwarePort();
        await using var store = await CreateAsync(server);
        var batch = new StateBatch();
        for (ulong u = 1; u <= 10; u++) AddUser(batch, u, count: 2, version: 1);
        await store.WriteAsync(batch, Timeout());
        for (ulong u = 1; u <= 10; u++) AssertUser(await LoadAsync(store, u), u, 2, 1);
        Assert.InRange(server.ConnectionsAccepted, 1, 8);
    }

    [Fact]
    public async Task TwoNodes_RequestsGoToTheNodeOwningTheToken()
    {
        var tables = new InMemoryTables();
        long[] tokensA = [-4611686018427387904, 4611686018427387904];
        long[] tokensB = [0, long.MaxValue];
        await using var a = new CqlTestServer(new CqlTestServerOptions { Tables = tables, Tokens = tokensA, Peers = [(IPAddress.Parse("127.0.0.2"), "dc1", tokensB)] });
        await using var b = new CqlTestServer(new CqlTestServerOptions
        {
            Tables = tables, Address = IPAddress.Parse("127.0.0.2"), Port = a.Port, Tokens = tokensB, Peers = [(IPAddress.Loopback, "dc1", tokensA)],
        });
        await using var store = await CreateAsync(a);
        Assert.Equal(2, store.Session.Ring.Hosts.Count);
        var batch = new StateBatch();
        for (ulong u = 1; u <= 40; u++) AddUser(batch, u, count: 1, version: 1);
        await store.WriteAsync(batch, Timeout());

        int onA = 0, onB = 0;
        foreach (var (server, tokens) in new[] { (a, tokensA), (b, tokensB) })
        {
            foreach (var rec in server.Batches)
            {
                long user = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(Convert.FromHexString(rec.PartitionKey));
                var owner = store.Session.Ring.OwnerOf(Murmur3.Token(user));
                Assert.Equal(server.Address, owner.EndPoint.Address);
                if (server == a) onA++;
                else onB++;
            }
        }
        Assert.Equal(40, onA + onB);
        Assert.True(onA > 5 && onB > 5, $"{onA} on A, {onB} on B");
        for (ulong u = 1; u <= 40; u += 7) AssertUser(await LoadAsync(store, u), u, 1, 1);
    }
}
