using System.Diagnostics;
using ReadStates.Core;

namespace ReadStates.Tests.Core;

public sealed class ConcurrencyTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "readstates-conc-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private ReadStates.Storage.RocksDb.RocksDbStore OpenStore() =>
        new(new ReadStates.Storage.RocksDb.RocksDbStoreOptions { Path = _dir, BlockCacheMb = 8 });

    /// <summary>
    /// Threads hammer one small engine (evictions, reloads and write-behind all running): each thread
    /// owns a set of users it drives through a random sequence mirrored in its own model, and all
    /// threads race forward acks on shared users. The final state must equal the models.
    /// </summary>
    [Fact]
    public async Task ParallelOperations_EndInTheModelsState()
    {
        const int threads = 4, ownUsers = 25, sharedUsers = 5, opsPerThread = 4000;
        var options = EngineModelTestsBaseAccess.Options();
        var store = new CountingStore(OpenStore());
        var engine = new ReadStateEngine(options, store);
        engine.Start();
        var models = new ReadStateModel[threads];
        var sharedMax = new ulong[sharedUsers + 1, 5];
        var deadline = Stopwatch.StartNew();

        var workers = Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
        {
            var rng = new Random(1000 + t);
            var model = models[t] = new ReadStateModel { MaxStatesPerUser = options.MaxStatesPerUser };
            ulong Own() => (ulong)(1000 * (t + 1) + rng.Next(ownUsers));
            for (int i = 0; i < opsPerThread && deadline.Elapsed < TimeSpan.FromSeconds(60); i++)
            {
                ulong c = (ulong)rng.Next(1, 8), m = (ulong)rng.Next(1, 500);
                switch (rng.Next(5))
                {
                    case 0:
                    {
                        ulong u = (ulong)rng.Next(1, sharedUsers + 1);
                        await engine.AckAsync(u, new AckCommand { ChannelId = 1 + c % 4, MessageId = m });
                        lock (sharedMax) sharedMax[u, 1 + c % 4] = Math.Max(sharedMax[u, 1 + c % 4], m);
                        break;
                    }
                    case 1:
                    {
                        ulong u = Own();
                        var cmd = new AckCommand { ChannelId = c, MessageId = m, Manual = rng.Next(6) == 0 };
                        model.BulkAck(u, [cmd]);
                        await engine.AckAsync(u, cmd);
                        break;
                    }
                    case 2:
                    case 3:
                    {
                        var who = new[] { Own(), Own(), Own() };
                        Assert.Equal(model.AddMentions(c, m, who, default), await engine.AddMentionsAsync(c, m, who, default, null));
                        break;
                    }
                    default:
                    {
                        var who = new[] { Own() };
                        Assert.Equal(model.RemoveMentions(c, m, who), await engine.RemoveMentionsAsync(c, m, who));
                        break;
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);

        await engine.DisposeAsync();
        await store.DisposeAsync();
        await using var reopenedStore = OpenStore();
        var reopened = new ReadStateEngine(options, reopenedStore);
        for (int t = 0; t < threads; t++)
            for (int i = 0; i < ownUsers; i++)
            {
                ulong u = (ulong)(1000 * (t + 1) + i);
                models[t].AssertMatches(u, await reopened.GetAsync(u), "after concurrent run");
            }
        for (ulong u = 1; u <= sharedUsers; u++)
        {
            var s = await reopened.GetAsync(u);
            for (ulong c = 1; c <= 4; c++)
            {
                var state = s.States.FirstOrDefault(x => x.ChannelId == c);
                Assert.Equal(sharedMax[u, c], state.LastMessageId);
            }
        }
        Assert.True(store.Loads > threads * ownUsers, $"the cache must have evicted and reloaded users (loads: {store.Loads})");
        await reopened.DisposeAsync();
    }
}

/// <summary>Counts loads on the way to a real store.</summary>
internal sealed class CountingStore(ReadStates.Core.Storage.IReadStateStore inner) : ReadStates.Core.Storage.IReadStateStore
{
    public int Loads;

    public string Name => inner.Name;

    public Task LoadUserAsync(ulong userId, ReadStates.Core.Storage.StateBatch into, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Loads);
        return inner.LoadUserAsync(userId, into, cancellationToken);
    }

    public Task WriteAsync(ReadStates.Core.Storage.StateBatch batch, CancellationToken cancellationToken) => inner.WriteAsync(batch, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>Shares the model test's settings (small cache, several shards).</summary>
internal static class EngineModelTestsBaseAccess
{
    public static EngineOptions Options() => new()
    {
        CapacityStates = 200,
        Shards = 4,
        MaxStatesPerUser = 12,
        MentionIdCap = 100,
        FlushInterval = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(20),
        ShutdownFlushTimeout = TimeSpan.FromSeconds(10),
    };
}
