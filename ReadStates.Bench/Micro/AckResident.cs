using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>One forward ack on a resident user (10k users × 50 channels), users visited in a scattered order.</summary>
[MemoryDiagnoser]
public class AckResident
{
    private const int Ops = 1024;
    private const int Users = 10_000;
    private const int Channels = 50;

    private ReadStateEngine _engine = null!;
    private LruUserCache _lru = null!;
    private MemoryCacheUserCache _memoryCache = null!;
    private DictionaryUserCache _dictionary = null!;
    private ulong _message = 10;
    private int _cursor;

    [GlobalSetup]
    public void Setup()
    {
        _engine = new ReadStateEngine(Fixtures.Options(Users * Channels * 2), new InMemoryStore());
        Fixtures.Fill(_engine, Users, Channels);
        _lru = new LruUserCache(Users * 2);
        _memoryCache = new MemoryCacheUserCache();
        _dictionary = new DictionaryUserCache();
        Fixtures.Fill(_lru, Users, Channels);
        Fixtures.Fill(_memoryCache, Users, Channels);
        Fixtures.Fill(_dictionary, Users, Channels);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _memoryCache.Dispose();
    }

    private (ulong User, ulong Channel) Next()
    {
        int i = _cursor++;
        return ((ulong)(1 + (int)((uint)(i * 7919) % Users)), (ulong)(1 + (i % Channels)));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public ulong Engine()
    {
        ulong sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            var (u, c) = Next();
            sum += _engine.AckAsync(u, new AckCommand { ChannelId = c, MessageId = ++_message }).Result.State.Version;
        }
        return sum;
    }

    private ulong Baseline(IUserCache cache)
    {
        ulong sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            var (u, c) = Next();
            sum += cache.GetOrAdd(u).Ack(c, ++_message).State.Version;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)] public ulong ConcurrentLru() => Baseline(_lru);
    [Benchmark(OperationsPerInvoke = Ops)] public ulong MemoryCache() => Baseline(_memoryCache);
    [Benchmark(OperationsPerInvoke = Ops)] public ulong ConcurrentDictionary() => Baseline(_dictionary);
}
