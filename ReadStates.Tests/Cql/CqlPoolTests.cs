using ReadStates.Cql;
using ReadStates.Tests.Cql.Server;
using Xunit.Abstractions;
using static ReadStates.Tests.Cql.CqlTestSupport;

namespace ReadStates.Tests.Cql;

/// <summary>
/// The connection pool under reconnection: however many requests wait, a host gets at most its
/// configured connections (one per shard on ScyllaDB), one handshake per slot, counted on the server.
/// </summary>
public class CqlPoolTests(ITestOutputHelper output)
{
    private const string Insert = "INSERT INTO ks.kv (k, c, v, n) VALUES (?, ?, ?, ?)";

    private static async Task InsertAsync(CqlSession session, PreparedStatement insert, long k, long c)
    {
        using var values = new CqlValues();
        values.AddBigint(k);
        values.AddBigint(c);
        values.AddText("v");
        values.AddInt(1);
        var options = CqlRequestOptions.Default();
        options.Idempotent = true;
        options.Timestamp = session.Clock.Next();
        (await session.ExecuteAsync(insert, values, options, Timeout()))?.Dispose();
    }

    /// <summary><paramref name="count"/> concurrent inserts over many partitions (so every shard is used).</summary>
    private static Task Wave(CqlSession session, PreparedStatement insert, int wave, int count) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(i => InsertAsync(session, insert, wave * 10_000 + i, i)));

    /// <summary>Until the pool has no open in flight and the server has seen every connection the client closed go away.</summary>
    private static async Task SettleAsync(CqlSession session, CqlTestServer server)
    {
        var pool = session.Ring.Hosts[0].Pool;
        for (int i = 0; i < 250 && (pool.OpensInFlight > 0 || server.OpenConnections != pool.OpenConnections); i++)
            await Task.Delay(20);
    }

    [Theory]
    [InlineData(0, 2)] // Cassandra, or ScyllaDB without shard info: ConnectionsPerHost interchangeable connections
    [InlineData(0, 6)]
    [InlineData(4, 2)] // ScyllaDB with 4 shards: one connection per shard
    public async Task DropsAndRestarts_WithManyRequestsWaiting_OpenOneConnectionPerSlot(int shards, int connectionsPerHost)
    {
        await using var server = new CqlTestServer(new CqlTestServerOptions { ShardCount = shards });
        await using var session = await ConnectAsync(server, o => o with { ConnectionsPerHost = connectionsPerHost, MaxRetries = 6 });
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        int slots = shards > 0 ? shards : connectionsPerHost;
        // Busy until every slot is open and settled: a round then starts from a full pool, so no handshake
        // of its own comes from growth before the drop (which would be one more than the slots after it).
        async Task FillAsync(int wave)
        {
            for (int warm = 0; warm < 20 && session.Ring.Hosts[0].Pool.OpenConnections < slots; warm++)
            {
                server.DelayReplies(200, TimeSpan.FromMilliseconds(20));
                await Wave(session, insert, wave, 200);
            }
            server.DelayReplies(0, TimeSpan.Zero);
            await SettleAsync(session, server);
            Assert.Equal(slots, session.Ring.Hosts[0].Pool.OpenConnections);
        }
        await FillAsync(0);
        Assert.InRange(server.Startups.Count, slots, slots + 1); // the first connection may have been opened before the pool knew the shards

        for (int round = 1; round <= 4; round++)
        {
            if (round > 1) await FillAsync(round + 200);
            int startups = server.Startups.Count;
            int accepted = server.ConnectionsAccepted;
            // 400 requests in flight (replies held back) when the node drops every connection or restarts.
            server.DelayReplies(400, TimeSpan.FromMilliseconds(300));
            var wave = Wave(session, insert, round, 400);
            await Task.Delay(100);
            if (round % 2 == 1) server.DropConnections();
            else server.Restart();
            await wave.WaitAsync(TimeSpan.FromSeconds(60));
            server.DelayReplies(0, TimeSpan.Zero);
            await Wave(session, insert, round + 100, 200); // busy again: the pool may fill every slot
            await SettleAsync(session, server);

            int handshakes = server.Startups.Count - startups;
            output.WriteLine($"round {round}: {handshakes} handshakes, {server.ConnectionsAccepted - accepted} connections accepted, {server.OpenConnections} open");
            Assert.InRange(handshakes, 1, slots);
            Assert.InRange(server.ConnectionsAccepted - accepted, 1, slots);
            Assert.InRange(server.OpenConnections, 1, slots);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public async Task NodeDown_ThenBack_ReconnectsWithBackoff_NotOncePerWaitingRequest(int shards)
    {
        var tables = new InMemoryTables();
        var server = new CqlTestServer(new CqlTestServerOptions { ShardCount = shards, ShardAwarePort = false, Tables = tables });
        int port = server.Port;
        await using var session = await ConnectAsync(server, o => o with { ConnectionsPerHost = 2, MaxRetries = 2 });
        await CreateSchemaAsync(session);
        var insert = await session.PrepareAsync(Insert, Timeout());
        await Wave(session, insert, 0, 50);

        // The node goes away; on its port something accepts TCP and closes at once (a node booting).
        await server.DisposeAsync();
        using var booting = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        booting.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
        booting.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
        booting.Listen(512);
        int attempts = 0;
        using var stopBooting = new CancellationTokenSource();
        var acceptLoop = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using var s = await booting.AcceptAsync(stopBooting.Token);
                    Interlocked.Increment(ref attempts);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException) { }
        });
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int failed = 0;
        while (watch.Elapsed < TimeSpan.FromSeconds(1.5))
        {
            // 300 requests wait at a time; every one of them fails (nothing answers).
            var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(async i =>
            {
                try { await InsertAsync(session, insert, 1, i); return true; }
                catch (CqlException) { return false; }
            }));
            failed += results.Count(ok => !ok);
        }
        await stopBooting.CancelAsync();
        booting.Dispose();
        await acceptLoop;
        output.WriteLine($"{attempts} connection attempts in {watch.Elapsed.TotalSeconds:F1} s while down, {failed} requests failed");
        Assert.True(failed > 0);
        // Backoff 20 ms doubling to 200 ms (the test options): about ten attempts per slot and second at most.
        Assert.InRange(attempts, 1, 40);

        // Back on the same port (prepared ids forgotten): one handshake per slot, the writes go through.
        await using var restarted = new CqlTestServer(new CqlTestServerOptions { ShardCount = shards, ShardAwarePort = false, Tables = tables, Port = port });
        await Task.Delay(250); // past the longest backoff
        server = restarted;
        server.DelayReplies(300, TimeSpan.FromMilliseconds(100));
        await Wave(session, insert, 2, 300).WaitAsync(TimeSpan.FromSeconds(30));
        await SettleAsync(session, server);
        int slots = shards > 0 ? shards : 2;
        output.WriteLine($"after the restart: {server.Startups.Count} handshakes, {server.OpenConnections} open");
        Assert.InRange(server.Startups.Count, 1, slots * 2); // regular port: shards land where the server puts them
        Assert.InRange(server.OpenConnections, 1, slots);
    }
}
