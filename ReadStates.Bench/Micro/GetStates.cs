using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>
/// Get all states (with totals) of a resident user who has N states. The engine hands them to a struct
/// visitor that copies them into a reused buffer; the baselines take a consistent copy under the user's
/// lock (a new list), which is what a handler must do before it leaves the lock.
/// </summary>
[MemoryDiagnoser]
public class GetStates
{
    private const int Users = 256;

    [Params(10, 100, 1000)]
    public int States { get; set; }

    private ReadStateEngine _engine = null!;
    private LruUserCache _lru = null!;
    private MemoryCacheUserCache _memoryCache = null!;
    private DictionaryUserCache _dictionary = null!;
    private ReadState[] _buffer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _engine = new ReadStateEngine(Fixtures.Options((long)Users * States * 2, maxStatesPerUser: Math.Max(States, 100)), new InMemoryStore());
        Fixtures.Fill(_engine, Users, States);
        _lru = new LruUserCache(Users * 2);
        _memoryCache = new MemoryCacheUserCache();
        _dictionary = new DictionaryUserCache();
        Fixtures.Fill(_lru, Users, States);
        Fixtures.Fill(_memoryCache, Users, States);
        Fixtures.Fill(_dictionary, Users, States);
        _buffer = new ReadState[States];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _memoryCache.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Users)]
    public long Engine()
    {
        long sum = 0;
        var visitor = new CopyingVisitor(_buffer);
        for (ulong u = 1; u <= Users; u++)
        {
            if (!_engine.TryRead(u, default, ref visitor)) throw new InvalidOperationException("not resident");
            sum += visitor.Count + visitor.Mentions;
        }
        return sum;
    }

    private static long Baseline(IUserCache cache)
    {
        long sum = 0;
        for (ulong u = 1; u <= Users; u++)
        {
            if (!cache.TryGet(u, out var user)) throw new InvalidOperationException("not resident");
            var states = user.Snapshot(out long mentions);
            sum += states.Count + mentions;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Users)] public long ConcurrentLru() => Baseline(_lru);
    [Benchmark(OperationsPerInvoke = Users)] public long MemoryCache() => Baseline(_memoryCache);
    [Benchmark(OperationsPerInvoke = Users)] public long ConcurrentDictionary() => Baseline(_dictionary);
}
