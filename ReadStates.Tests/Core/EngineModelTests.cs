using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Tests.Core;

/// <summary>
/// Model-based property test: seeded random operation sequences over many users, with a cache small
/// enough to force eviction and reload and the engine closed and reopened mid-sequence, must agree
/// with <see cref="ReadStateModel"/> at every read and at the end. Subclasses pick the store.
/// </summary>
public abstract class EngineModelTestsBase
{
    /// <summary>Opens the store (again, after a close) on the same durable data.</summary>
    private protected abstract IReadStateStore OpenStore();

    /// <summary>Called before every step: fault-injecting variants break the store here.</summary>
    private protected virtual void BeforeStep(Random rng)
    {
    }

    private protected static EngineOptions ModelOptions() => new()
    {
        CapacityStates = 80,
        Shards = 2,
        MaxStatesPerUser = 12,
        MentionIdCap = 100,
        FlushInterval = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(20),
        ShutdownFlushTimeout = TimeSpan.FromSeconds(10),
    };

    private protected async Task RunModel(int seed, int steps)
    {
        var rng = new Random(seed);
        var options = ModelOptions();
        var model = new ReadStateModel { MaxStatesPerUser = options.MaxStatesPerUser };
        var store = OpenStore();
        var engine = new ReadStateEngine(options, store);
        engine.Start();
        const int users = 40, channels = 16;
        ulong U() => (ulong)rng.Next(1, users + 1);
        ulong C() => (ulong)rng.Next(1, channels + 1);
        ulong M() => (ulong)rng.Next(1, 300);
        StateAttributes A() => rng.Next(4) switch
        {
            0 => default,
            1 => new StateAttributes { ParentId = (ulong)rng.Next(0, 3) },
            2 => new StateAttributes { ParentId = (ulong)rng.Next(0, 3), Type = (ReadStateType)rng.Next(0, 6), Flags = (ReadStateFlags)rng.Next(0, 8) },
            _ => new StateAttributes { LastViewed = rng.Next(1, 1000) },
        };
        try
        {
            for (int step = 0; step < steps; step++)
            {
                string ctx = $"seed {seed} step {step}";
                BeforeStep(rng);
                int op = rng.Next(100);
                if (op < 25)
                {
                    ulong u = U();
                    var cmd = new AckCommand { ChannelId = C(), MessageId = M(), Manual = rng.Next(8) == 0, Attributes = A() };
                    var applied = new List<bool>();
                    bool ok = model.BulkAck(u, [cmd], applied);
                    if (ok) Assert.Equal(applied[0], (await engine.AckAsync(u, cmd)).Applied);
                    else await Assert.ThrowsAsync<StateLimitException>(async () => await engine.AckAsync(u, cmd));
                }
                else if (op < 33)
                {
                    ulong u = U();
                    var cmds = Enumerable.Range(0, rng.Next(1, 6))
                        .Select(_ => new AckCommand { ChannelId = C(), MessageId = M(), Manual = rng.Next(8) == 0, Attributes = A() }).ToArray();
                    var applied = new List<bool>();
                    var results = new AckResult[cmds.Length];
                    if (model.BulkAck(u, cmds, applied))
                    {
                        await engine.BulkAckAsync(u, cmds, results);
                        Assert.Equal(applied, results.Select(r => r.Applied));
                    }
                    else
                    {
                        await Assert.ThrowsAsync<StateLimitException>(async () => await engine.BulkAckAsync(u, cmds, results));
                    }
                }
                else if (op < 37)
                {
                    ulong u = U(), p = (ulong)rng.Next(0, 3), m = M();
                    Assert.Equal(model.AckParent(u, p, m), await engine.AckParentAsync(u, p, m));
                }
                else if (op < 41)
                {
                    ulong u = U(), c = C();
                    long ts = rng.Next(1, 1000);
                    var a = A();
                    if (model.AckPins(u, c, ts, a)) await engine.AckPinsAsync(u, c, ts, a);
                    else await Assert.ThrowsAsync<StateLimitException>(async () => await engine.AckPinsAsync(u, c, ts, a));
                }
                else if (op < 63)
                {
                    ulong c = C(), m = M();
                    var who = Enumerable.Range(0, rng.Next(1, 6)).Select(_ => U()).ToArray();
                    var a = A();
                    Assert.Equal(model.AddMentions(c, m, who, a), await engine.AddMentionsAsync(c, m, who, a, null));
                }
                else if (op < 73)
                {
                    ulong c = C(), m = M();
                    var who = Enumerable.Range(0, rng.Next(1, 4)).Select(_ => U()).ToArray();
                    Assert.Equal(model.RemoveMentions(c, m, who), await engine.RemoveMentionsAsync(c, m, who));
                }
                else if (op < 78)
                {
                    ulong u = U();
                    bool all = rng.Next(4) == 0;
                    var list = Enumerable.Range(0, rng.Next(1, 4)).Select(_ => C()).ToArray();
                    Assert.Equal(model.Delete(u, list, all), await engine.DeleteAsync(u, list, all));
                }
                else if (op < 97)
                {
                    ulong u = U();
                    model.AssertMatches(u, await engine.GetAsync(u), ctx);
                }
                else if (op < 99)
                {
                    await engine.FlushAsync();
                }
                else
                {
                    // Close and reopen mid-sequence: everything acknowledged must come back.
                    await engine.DisposeAsync();
                    await store.DisposeAsync();
                    store = OpenStore();
                    engine = new ReadStateEngine(options, store);
                    engine.Start();
                }
            }
            for (ulong u = 1; u <= users; u++) model.AssertMatches(u, await engine.GetAsync(u), $"seed {seed} end");
            await engine.DisposeAsync();
            await store.DisposeAsync();
            store = OpenStore();
            engine = new ReadStateEngine(options, store);
            for (ulong u = 1; u <= users; u++) model.AssertMatches(u, await engine.GetAsync(u), $"seed {seed} after reopen");
        }
        finally
        {
            await engine.DisposeAsync();
            await store.DisposeAsync();
        }
    }
}

public sealed class EngineModelTests_MemoryStore : EngineModelTestsBase
{
    private readonly MemoryStore _durable = new();

    private protected override IReadStateStore OpenStore() => _durable;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public Task RandomOperations_MatchTheModel(int seed) => RunModel(seed, 3000);
}

public sealed class EngineModelTests_RocksDb : EngineModelTestsBase, IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "readstates-model-" + Guid.NewGuid().ToString("N"));

    private protected override IReadStateStore OpenStore() =>
        new ReadStates.Storage.RocksDb.RocksDbStore(new ReadStates.Storage.RocksDb.RocksDbStoreOptions { Path = _dir, BlockCacheMb = 8 });

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public Task RandomOperations_MatchTheModel(int seed) => RunModel(seed, 3000);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The same property over the ScyllaDB store, through our CQL client, against the loopback CQL server.</summary>
public sealed class EngineModelTests_Scylla : EngineModelTestsBase, IAsyncLifetime
{
    private readonly ReadStates.Tests.Cql.Server.CqlTestServer _server = new(new() { ShardCount = 2 });
    private bool _faults;
    private int _injected;

    private protected override IReadStateStore OpenStore() =>
        ReadStates.Storage.Scylla.ScyllaStore.Create(ReadStates.Tests.Scylla.ScyllaTestSupport.Options(_server, o =>
        {
            o.RequestTimeout = TimeSpan.FromSeconds(2);
            o.MaxStatementsPerBatch = 6; // several batches per user, as large users get
        }), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    // Node restarts (prepared ids forgotten, connections cut) and dropped connections at random moments,
    // mid-flush included: the engine retries, and nothing acknowledged may be lost.
    private protected override void BeforeStep(Random rng)
    {
        if (!_faults) return;
        int roll = rng.Next(400);
        if (roll == 0) _server.Restart();
        else if (roll == 1) _server.DropConnections();
        else return;
        _injected++;
    }

    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    public Task RandomOperations_MatchTheModel(int seed) => RunModel(seed, 1500);

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    public async Task RandomOperations_UnderServerRestartsAndDroppedConnections_MatchTheModel(int seed)
    {
        _faults = true;
        await RunModel(seed, 1500);
        Assert.True(_injected >= 3, $"only {_injected} faults were injected");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _server.DisposeAsync();
}
