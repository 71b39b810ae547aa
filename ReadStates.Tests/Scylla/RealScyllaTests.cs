using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using ReadStates.Core.Storage;
using ReadStates.Cql;
using ReadStates.Storage.Scylla;
using ReadStates.Tests.Support;
using static ReadStates.Tests.Scylla.ScyllaTestSupport;

namespace ReadStates.Tests.Scylla;

/// <summary>
/// Against a real ScyllaDB, only when READSTATES_SCYLLA=host:port is set (e.g. `docker compose up`);
/// otherwise each test reports skipped, saying so. Keyspace readstates_test, replication factor 1.
/// </summary>
public class RealScyllaTests
{
    private static ScyllaOptions RealOptions()
    {
        string target = Prerequisite.RequireEnvironment("READSTATES_SCYLLA", "set it to host:port of a real ScyllaDB (e.g. docker compose --profile scylla up) to run this test");
        int colon = target.LastIndexOf(':');
        return new ScyllaOptions
        {
            ContactPoints = [colon > 0 ? target[..colon] : target],
            Port = colon > 0 ? int.Parse(target[(colon + 1)..], CultureInfo.InvariantCulture) : 9042,
            Keyspace = "readstates_test",
            ReplicationFactor = 1,
            Username = Environment.GetEnvironmentVariable("READSTATES_SCYLLA_USER"),
            Password = Environment.GetEnvironmentVariable("READSTATES_SCYLLA_PASSWORD"),
            Compression = true,
            RequestTimeout = TimeSpan.FromSeconds(10),
        };
    }

    [SkippableFact]
    public async Task RealScylla_StoreWritesLoadsAndDeletes()
    {
        var options = RealOptions();
        await using var store = await ScyllaStore.CreateAsync(options, NullLogger.Instance, Timeout(120));
        ulong user = (ulong)Random.Shared.NextInt64(1, long.MaxValue);
        var batch = new StateBatch();
        AddUser(batch, user, count: 250, version: 5);
        await store.WriteAsync(batch, Timeout(60));
        AssertUser(await LoadAsync(store, user), user, 250, 5);

        batch.Clear();
        batch.BeginUser(user, 6);
        batch.AddState(Deleted(1000, 6), 0, 0, []);
        await store.WriteAsync(batch, Timeout(60));
        var loaded = await LoadAsync(store, user);
        Assert.Equal(249, loaded.StateCount);
        Assert.Equal(6UL, loaded.Users[0].Version);
        Assert.Equal(1001UL, loaded.States[0].State.ChannelId);
    }

    [SkippableFact]
    public async Task RealScylla_ConnectionsLandOnTheShardsTheyWereOpenedFor()
    {
        var options = RealOptions();
        await using var store = await ScyllaStore.CreateAsync(options, NullLogger.Instance, Timeout(120));
        var batch = new StateBatch();
        for (ulong u = 1; u <= 64; u++) AddUser(batch, u * 7919, count: 1, version: 1);
        await store.WriteAsync(batch, Timeout(60));
        foreach (var host in store.Session.Ring.Hosts)
        {
            Assert.True(host.Pool.ServerInfo is { IsScylla: true }, "the server does not advertise SCYLLA_SHARD: not ScyllaDB?");
            var connections = host.Pool.Connections;
            for (int shard = 0; shard < connections.Count; shard++)
            {
                if (connections[shard] is { IsOpen: true } c) Assert.Equal(shard, c.ServerInfo.Shard);
            }
        }
    }
}
