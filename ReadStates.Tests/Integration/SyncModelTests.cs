using System.Globalization;
using ReadStates.Api.V1;
using ReadStates.Tests.Cql.Server;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>
/// Model-based sync through the real server: random operations on many users, with a cache small enough to
/// evict, a tombstone cap small enough to raise sync floors, and graceful restarts, interleave with
/// <c>Get(since_version)</c> from several devices per user. A device keeps only what sync answers told it;
/// after every sync it must hold exactly what a full Get returns. Runs over RocksDB and over the ScyllaDB
/// store (our CQL client against the loopback CQL server).
/// </summary>
public sealed class SyncModelTests
{
    private static readonly string[] Small =
    [
        "Engine:CapacityStates=48", "Engine:Shards=2", "Engine:MaxStatesPerUser=8", "Engine:MaxTombstonesPerUser=5",
        "Engine:FlushInterval=00:00:00.020",
    ];

    /// <summary>A client device: its copy of one user's states and the version it synced to, fed only by sync answers.</summary>
    private sealed class Device
    {
        public ulong Version;
        public SortedDictionary<ulong, ReadState> States { get; } = [];
        public int Resyncs;

        public async Task SyncAsync(ReadStatesClient client, ulong user)
        {
            var answer = await client.GetAsync(new GetRequest { UserId = user, SinceVersion = Version });
            if (answer.Sync == SyncStatus.ResyncRequired)
            {
                Assert.True(Version < answer.SyncFloor, $"resync at {Version} with floor {answer.SyncFloor}");
                Assert.Empty(answer.States);
                Assert.Empty(answer.Deleted);
                Resyncs++;
                var full = await client.GetAsync(new GetRequest { UserId = user });
                Assert.Equal(SyncStatus.Full, full.Sync);
                States.Clear();
                foreach (var s in full.States) States[s.ChannelId] = s;
                Version = full.Version;
                return;
            }
            Assert.Equal(SyncStatus.Changes, answer.Sync);
            Assert.True(answer.Version >= Version);
            foreach (var s in answer.States)
            {
                Assert.InRange(s.Version, Version + 1, answer.Version);
                States[s.ChannelId] = s;
            }
            foreach (var d in answer.Deleted)
            {
                Assert.InRange(d.Version, Version + 1, answer.Version);
                States.Remove(d.ChannelId);
            }
            Version = answer.Version;
        }

        public async Task AssertMatchesServerAsync(ReadStatesClient client, ulong user, string context)
        {
            var full = await client.GetAsync(new GetRequest { UserId = user });
            Assert.True(full.Version == Version, $"{context}: device at {Version}, server at {full.Version}");
            Assert.True(full.States.SequenceEqual(States.Values), $"{context}: device copy differs from the server's states");
        }
    }

    [Fact]
    public Task RocksDb_SyncAnswersAlwaysReproduceTheServersState() => RunAsync(seed: 11, store: null);

    [Fact]
    public async Task Scylla_SyncAnswersAlwaysReproduceTheServersState()
    {
        await using var server = new CqlTestServer();
        await RunAsync(seed: 12, store: server);
        Assert.Equal(0, server.Tables.CountNullCells("readstates", "read_states"));
    }

    private static string[] Settings(CqlTestServer? scylla) => scylla is null ? Small :
    [
        .. Small, "Storage:Kind=scylla", $"Scylla:ContactPoints:0={scylla.Address}",
        $"Scylla:Port={scylla.Port.ToString(CultureInfo.InvariantCulture)}", "Scylla:ReplicationFactor=1", "Scylla:ConnectTimeout=00:00:05",
    ];

    private static async Task RunAsync(int seed, CqlTestServer? store)
    {
        const int users = 12, channels = 6, restarts = 3, stepsPerRun = 220;
        using var dir = new TempDir();
        var rng = new Random(seed);
        var devices = Enumerable.Range(0, users * 2).Select(_ => new Device()).ToArray();
        ulong message = 1000;
        int syncs = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        for (int run = 0; run <= restarts; run++)
        {
            await using var service = await RunningService.StartAsync(dir.Path, Settings(store));
            var client = service.Client;
            for (int step = 0; step < stepsPerRun && DateTime.UtcNow < deadline; step++)
            {
                ulong user = (ulong)rng.Next(1, users + 1);
                ulong channel = (ulong)rng.Next(1, channels + 1);
                message += (ulong)rng.Next(1, 20);
                await RandomOperationAsync(client, rng, user, channel, message, users);
                if (rng.Next(3) == 0)
                {
                    int d = (int)(user - 1) * 2 + rng.Next(2); // two devices per user, syncing at different times
                    await devices[d].SyncAsync(client, user);
                    await devices[d].AssertMatchesServerAsync(client, user, $"seed {seed} run {run} step {step} user {user}");
                    syncs++;
                }
            }
            await service.StopAsync(); // graceful: the next run reloads everything from the store
        }
        Assert.True(syncs > 100, $"only {syncs} syncs");
        Assert.True(devices.Sum(d => d.Resyncs) > 0, "the tombstone cap never raised a floor past a device");
        Assert.True(devices.Count(d => d.Version > 0) > users, "most devices synced something");
    }

    private static async Task RandomOperationAsync(ReadStatesClient client, Random rng, ulong user, ulong channel, ulong message, int users)
    {
        switch (rng.Next(10))
        {
            case 0 or 1 or 2:
                await client.AckAsync(new AckRequest
                {
                    UserId = user, ChannelId = channel, MessageId = rng.Next(6) == 0 ? message / 2 : message, Manual = rng.Next(6) == 0,
                    Attributes = rng.Next(3) == 0 ? new StateAttributes { ParentId = (ulong)rng.Next(0, 3) } : null,
                });
                break;
            case 3:
                var mentioned = Enumerable.Range(0, 3).Select(_ => (ulong)rng.Next(1, users + 1)).Distinct();
                await client.AddMentionsAsync(new AddMentionsRequest { ChannelId = channel, MessageId = message, UserIds = { mentioned } });
                break;
            case 4:
                await client.RemoveMentionsAsync(new RemoveMentionsRequest { ChannelId = channel, MessageId = message - (ulong)rng.Next(0, 40), UserIds = { user } });
                break;
            case 5 or 6:
                await client.DeleteAsync(new DeleteRequest { UserId = user, ChannelIds = { channel, (ulong)rng.Next(1, 7) } });
                break;
            case 7:
                if (rng.Next(4) == 0) await client.DeleteAsync(new DeleteRequest { UserId = user, All = true });
                else await client.AckParentAsync(new AckParentRequest { UserId = user, ParentId = (ulong)rng.Next(1, 3), MessageId = message });
                break;
            case 8:
                await client.AckPinsAsync(new AckPinsRequest { UserId = user, ChannelId = channel, LastPinTimestamp = (long)message });
                break;
            default:
                await client.BulkAckAsync(new BulkAckRequest
                {
                    UserId = user,
                    Entries = { new BulkAckEntry { ChannelId = channel, MessageId = message }, new BulkAckEntry { ChannelId = (ulong)rng.Next(1, 7), MessageId = message } },
                });
                break;
        }
    }
}
