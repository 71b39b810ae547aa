using ReadStates.Cql;
using ReadStates.Tests.Cql.Server;
using static ReadStates.Tests.Cql.CqlTestSupport;

namespace ReadStates.Tests.Cql;

/// <summary>The client against the loopback test server over real sockets.</summary>
public class CqlSessionTests
{
    private const string Insert = "INSERT INTO ks.kv (k, c, v, n) VALUES (?, ?, ?, ?)";
    private const string Select = "SELECT c, v, n FROM ks.kv WHERE k = ?";

    private static async Task InsertAsync(CqlSession session, PreparedStatement insert, long k, long c, string? v, int n, bool idempotent = true, TimeSpan? timeout = null)
    {
        using var values = new CqlValues();
        values.AddBigint(k);
        values.AddBigint(c);
        values.AddText(v);
        values.AddInt(n);
        var options = CqlRequestOptions.Default();
        options.Idempotent = idempotent;
        options.Timestamp = session.Clock.Next();
        options.Timeout = timeout;
        (await session.ExecuteAsync(insert, values, options, Timeout()))?.Dispose();
    }

    private static async Task<List<(long C, string? V, int N)>> ReadAllAsync(CqlSession session, long k, int pageSize, Action<int>? onPage = null)
    {
        var select = await session.PrepareAsync(Select, Timeout());
        using var values = new CqlValues();
        values.AddBigint(k);
        var result = new List<(long, string?, int)>();
        byte[]? paging = null;
        for (int page = 0; page < 1000; page++)
        {
            var options = CqlRequestOptions.Default();
            options.PageSize = pageSize;
            options.PagingState = paging;
            using var rows = (await session.ExecuteAsync(select, values, options, Timeout()))!;
            onPage?.Invoke(rows.RowCount);
            while (rows.MoveNext()) result.Add((rows.GetInt64(0), rows.GetString(1), rows.GetInt32(2)));
            paging = rows.PagingState;
            if (paging is null) return result;
        }
        throw new InvalidOperationException("paging did not end");
    }

    [Fact]
    public async Task Connect_ReadsTopologyFromSystemLocal()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server);
        Assert.Equal("readstates-test", session.ClusterName);
        Assert.Equal("dc1", session.LocalDatacenter);
        var host = Assert.Single(session.Ring.Hosts);
        Assert.Equal(server.HostId, host.HostId);
        Assert.Equal(3, host.Tokens.Length);
        Assert.DoesNotContain(server.Requests, r => r.Query.Contains("peers_v2", StringComparison.Ordinal));
        Assert.Contains(server.Requests, r => r.Query.Contains("system.peers", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TopologyRefresh_AddsAndRetiresNodes_AndIgnoresOtherDatacenters()
    {
        var tables = new InMemoryTables();
        await using var a = new CqlTestServer(new CqlTestServerOptions { Tables = tables, Tokens = [0] });
        await using var b = new CqlTestServer(new CqlTestServerOptions { Tables = tables, Address = System.Net.IPAddress.Parse("127.0.0.2"), Port = a.Port, Tokens = [long.MaxValue] });
        await using var session = await ConnectAsync(a);
        Assert.Single(session.Ring.Hosts);

        a.Peers = [(b.Address, "dc1", [long.MaxValue]), (System.Net.IPAddress.Parse("127.0.0.3"), "dc2", [100])];
        await session.RefreshTopologyAsync(Timeout());
        Assert.Equal(["127.0.0.1", "127.0.0.2"], session.Ring.Hosts.Select(h => h.EndPoint.Address.ToString()).Order());
        Assert.Equal("127.0.0.2", session.Ring.OwnerOf(1).EndPoint.Address.ToString());
        Assert.Equal("127.0.0.1", session.Ring.OwnerOf(-5).EndPoint.Address.ToString());

        a.Peers = [];
        await session.RefreshTopologyAsync(Timeout());
        Assert.Equal("127.0.0.1", Assert.Single(session.Ring.Hosts).EndPoint.Address.ToString());
    }

    [Fact]
    public async Task PreparedWrites_ReadBackInClusteringOrder_AcrossPages()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server);
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        Assert.Equal([0], insert.PartitionKeyIndexes);
        for (int i = 25; i >= 1; i--) await InsertAsync(session, insert, 7, i, "v" + i, i * 10);
        await InsertAsync(session, insert, 8, 1, "other", 1);

        var pages = new List<int>();
        var rows = await ReadAllAsync(session, 7, pageSize: 10, pages.Add);
        Assert.Equal([10, 10, 5], pages);
        Assert.Equal(Enumerable.Range(1, 25).Select(i => ((long)i, (string?)("v" + i), i * 10)), rows);
    }

    [Fact]
    public async Task Compression_Lz4_IsNegotiatedAndUsedBothWays()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server, o => o with { Connection = o.Connection with { Compression = true } });
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        await InsertAsync(session, insert, 1, 1, new string('x', 2000), 1);
        var rows = await ReadAllAsync(session, 1, 100);
        Assert.Equal(new string('x', 2000), Assert.Single(rows).V);
        Assert.Contains(server.Startups, s => s.GetValueOrDefault("COMPRESSION") == "lz4");
        Assert.True(server.CompressedRequests >= 3);
    }

    [Fact]
    public async Task PasswordAuthenticator_AcceptsRightCredentials_RejectsWrongOnes()
    {
        await using var server = new CqlTestServer(new CqlTestServerOptions { Username = "cassandra", Password = "s3cret" });
        await using (var session = await ConnectAsync(server, o => o with { Connection = o.Connection with { Username = "cassandra", Password = "s3cret" } }))
        {
            await CreateSchemaAsync(session);
        }
        var wrong = await Assert.ThrowsAnyAsync<CqlException>(() => ConnectAsync(server, o => o with { Connection = o.Connection with { Username = "cassandra", Password = "nope" } }));
        Assert.Contains("incorrect", wrong.ToString(), StringComparison.Ordinal);
        var none = await Assert.ThrowsAnyAsync<CqlException>(() => ConnectAsync(server));
        Assert.Contains("requires authentication", none.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManyConcurrentRequests_ShareOneSocketByStreamId()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server, o => o with { ConnectionsPerHost = 1 });
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        server.DelayReplies(100, TimeSpan.FromMilliseconds(50));
        var tasks = Enumerable.Range(0, 300).Select(i => InsertAsync(session, insert, 3, i, null, i)).ToArray();
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(300, (await ReadAllAsync(session, 3, 1000)).Count);
        Assert.Equal(1, server.ConnectionsAccepted);
    }

    [Fact]
    public async Task Unprepared_AfterServerForgetsIds_IsReprepared()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server);
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        byte[] oldId = insert.Id;
        server.ForgetPrepared();
        await InsertAsync(session, insert, 1, 1, "after", 1, idempotent: false);
        Assert.False(oldId.AsSpan().SequenceEqual(insert.Id));
        Assert.Single(await ReadAllAsync(session, 1, 10));
        Assert.Equal(3, server.PrepareCount);
    }

    [Fact]
    public async Task SlowReply_TimesOut_ThenIdempotentRetrySucceeds()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server);
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        var timeout = TimeSpan.FromSeconds(3);

        server.DelayReplies(1, TimeSpan.FromSeconds(10));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await InsertAsync(session, insert, 1, 1, "a", 1, idempotent: true, timeout);
        Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(2.9), TimeSpan.FromSeconds(9.5));

        server.DelayReplies(1, TimeSpan.FromSeconds(10));
        var ex = await Assert.ThrowsAnyAsync<CqlException>(() => InsertAsync(session, insert, 1, 2, "b", 1, idempotent: false, timeout));
        Assert.True(ex.IsTransient);
        Assert.Contains("timed out", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IdleConnection_SendsHeartbeats()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server, o => o with { Connection = o.Connection with { HeartbeatInterval = TimeSpan.FromMilliseconds(200) } });
        int afterHandshake = server.OptionsCount;
        for (int i = 0; i < 100 && server.OptionsCount < afterHandshake + 2; i++) await Task.Delay(50);
        Assert.True(server.OptionsCount >= afterHandshake + 2, $"{server.OptionsCount - afterHandshake} heartbeats");
    }

    [Fact]
    public async Task SilentPeer_ConnectionIsClosedAfterATimeout_AndANewOneServesTheNextRequest()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server, o => o with { ConnectionsPerHost = 1, MaxRetries = 0 });
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        var connection = Assert.Single(session.Ring.Hosts[0].Pool.Connections, c => c is not null)!;

        server.DelayReplies(1, TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<CqlException>(() => InsertAsync(session, insert, 1, 1, "a", 1, idempotent: false, TimeSpan.FromSeconds(2)));
        Assert.False(connection.IsOpen);
        Assert.Contains("sent nothing", connection.CloseReason!.Message, StringComparison.Ordinal);

        int accepted = server.ConnectionsAccepted;
        await InsertAsync(session, insert, 1, 2, "b", 2);
        Assert.Equal(accepted + 1, server.ConnectionsAccepted);
    }

    [Fact]
    public async Task Overloaded_IsRetried_EvenForNonIdempotentRequests_AndSurfacesWhenPersistent()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server, o => o with { MaxRetries = 2 });
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        server.FailNext(2, CqlErrorCode.Overloaded);
        await InsertAsync(session, insert, 1, 1, "a", 1, idempotent: false);

        server.FailNext(10, CqlErrorCode.Overloaded);
        var ex = await Assert.ThrowsAsync<CqlServerException>(() => InsertAsync(session, insert, 1, 2, "b", 1));
        Assert.Equal(CqlErrorCode.Overloaded, ex.Code);
        Assert.True(ex.IsTransient);
        server.FailNext(0);

        server.FailNext(1, CqlErrorCode.WriteTimeout);
        var wt = await Assert.ThrowsAsync<CqlServerException>(() => InsertAsync(session, insert, 1, 3, "c", 1, idempotent: false));
        Assert.Equal("UNLOGGED_BATCH", wt.WriteType);
        Assert.Equal(2, wt.BlockFor);
    }

    [Fact]
    public async Task DroppedConnection_IsReplacedOnTheNextRequest()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server);
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        await InsertAsync(session, insert, 1, 1, "a", 1);
        int before = server.ConnectionsAccepted;
        server.DropConnections();
        await Task.Delay(50);
        await InsertAsync(session, insert, 1, 2, "b", 2);
        Assert.True(server.ConnectionsAccepted > before);
        Assert.Equal(2, (await ReadAllAsync(session, 1, 10)).Count);
    }

    [Fact]
    public async Task ServerErrors_AreDecodedWithTheirCode()
    {
        await using var server = new CqlTestServer();
        await using var session = await ConnectAsync(server);
        var syntax = await Assert.ThrowsAsync<CqlServerException>(async () => await session.QueryAsync("SELEKT nonsense", null, CqlRequestOptions.Default(), Timeout()));
        Assert.Equal(CqlErrorCode.SyntaxError, syntax.Code);
        Assert.False(syntax.IsTransient);
        await CreateSchemaAsync(session);
        var exists = await Assert.ThrowsAsync<CqlServerException>(async () =>
            await session.QueryAsync("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", null, CqlRequestOptions.Default(), Timeout()));
        Assert.Equal(CqlErrorCode.AlreadyExists, exists.Code);
        Assert.Equal("ks", exists.Keyspace);
    }
}
