using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Bench.Micro;

/// <summary>
/// Get of a user who is not resident: load from the store (20 states), insert, evict a clean user, read.
/// Users are swept in order through a cache that holds 5% of them, so every get misses.
/// </summary>
[MemoryDiagnoser]
public class MissLoad
{
    private const int Ops = 256;
    private const int Users = 20_000;
    private const int Channels = 20;
    private const int ResidentUsers = 1_000;

    [Params("memory", "rocksdb")]
    public string Store { get; set; } = "memory";

    private IReadStateStore _store = null!;
    private string? _dir;
    private ReadStateEngine _engine = null!;
    private LruUserCache _lru = null!;
    private MemoryCacheUserCache _memoryCache = null!;
    private readonly StateBatch _batch = new();
    private readonly UserSnapshot _snapshot = new();
    private int _cursor;

    [GlobalSetup]
    public void Setup()
    {
        (_store, _dir) = Fixtures.OpenStore(Store);
        Fixtures.FillStore(_store, Users, Channels);
        _engine = new ReadStateEngine(Fixtures.Options(ResidentUsers * Channels, shards: 4, maxStatesPerUser: 100), _store);
        _lru = new LruUserCache(ResidentUsers);
        _memoryCache = new MemoryCacheUserCache(ResidentUsers);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _memoryCache.Dispose();
        Fixtures.CloseStore(_store, _dir).GetAwaiter().GetResult();
    }

    private ulong NextUser() => (ulong)(1 + (_cursor++ % Users));

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public async Task<long> Engine()
    {
        long sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            ulong u = NextUser();
            if (!_engine.TryRead(u, default, _snapshot))
            {
                await _engine.LoadAsync(u);
                if (!_engine.TryRead(u, default, _snapshot)) throw new InvalidOperationException("evicted right after load");
            }
            sum += _snapshot.States.Length;
        }
        return sum;
    }

    private async Task<long> Baseline(IUserCache cache)
    {
        long sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            ulong u = NextUser();
            if (!cache.TryGet(u, out var user))
            {
                _batch.Clear();
                await _store.LoadUserAsync(u, _batch, default);
                user = UserObject.FromBatch(_batch);
                cache.Set(u, user);
            }
            sum += user.Snapshot(out _).Count;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)] public Task<long> ConcurrentLru() => Baseline(_lru);
    [Benchmark(OperationsPerInvoke = Ops)] public Task<long> MemoryCache() => Baseline(_memoryCache);
}
