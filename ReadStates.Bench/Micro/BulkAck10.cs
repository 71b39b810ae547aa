using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>One bulk ack of 10 channels on a resident user (10k users × 50 channels): "mark these read".</summary>
[MemoryDiagnoser]
public class BulkAck10
{
    private const int Ops = 256;
    private const int Users = 10_000;
    private const int Channels = 50;
    private const int Batch = 10;

    private ReadStateEngine _engine = null!;
    private LruUserCache _lru = null!;
    private MemoryCacheUserCache _memoryCache = null!;
    private DictionaryUserCache _dictionary = null!;
    private readonly AckCommand[] _commands = new AckCommand[Batch];
    private readonly AckResult[] _results = new AckResult[Batch];
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

    private ulong NextUser()
    {
        int i = _cursor++;
        ulong first = (ulong)(1 + (i % (Channels - Batch)));
        ulong m = ++_message;
        for (int k = 0; k < Batch; k++) _commands[k] = new AckCommand { ChannelId = first + (ulong)k, MessageId = m };
        return (ulong)(1 + (int)((uint)(i * 7919) % Users));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public bool Engine()
    {
        bool applied = true;
        for (int i = 0; i < Ops; i++)
        {
            ulong u = NextUser();
            _engine.BulkAckAsync(u, _commands, _results).GetAwaiter().GetResult();
            applied &= _results[Batch - 1].Applied;
        }
        return applied;
    }

    private bool Baseline(IUserCache cache)
    {
        bool applied = true;
        for (int i = 0; i < Ops; i++)
        {
            ulong u = NextUser();
            cache.GetOrAdd(u).BulkAck(_commands, _results);
            applied &= _results[Batch - 1].Applied;
        }
        return applied;
    }

    [Benchmark(OperationsPerInvoke = Ops)] public bool ConcurrentLru() => Baseline(_lru);
    [Benchmark(OperationsPerInvoke = Ops)] public bool MemoryCache() => Baseline(_memoryCache);
    [Benchmark(OperationsPerInvoke = Ops)] public bool ConcurrentDictionary() => Baseline(_dictionary);
}
