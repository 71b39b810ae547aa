using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>
/// A population of resident users held by the engine or by one of the class-per-user baselines. Each
/// benchmark method builds only its own side (filling all four for every case would dominate the run).
/// </summary>
public abstract class ResidentScenario
{
    protected ReadStateEngine EngineUnderTest = null!;
    protected LruUserCache Lru = null!;
    protected MemoryCacheUserCache Mc = null!;
    protected DictionaryUserCache Dict = null!;

    protected abstract int Users { get; }
    protected abstract int Channels { get; }

    protected virtual void AfterSetup() { }

    [GlobalSetup(Target = "Engine")]
    public void SetupEngine()
    {
        // Capacity far above the population: users hash unevenly over the shards, and an eviction here would
        // turn a resident-path benchmark into a miss-path one. Arena chunks are taken on demand, so it costs nothing.
        long capacity = Math.Max((long)Users * Channels * 4, 4_000_000);
        EngineUnderTest = new ReadStateEngine(Fixtures.Options(capacity, maxStatesPerUser: Math.Max(Channels, 100)), new InMemoryStore());
        Fixtures.Fill(EngineUnderTest, Users, Channels);
        AfterSetup();
    }

    [GlobalSetup(Target = "ConcurrentLru")]
    public void SetupLru()
    {
        Lru = new LruUserCache(Users * 2);
        Fixtures.Fill(Lru, Users, Channels);
        AfterSetup();
    }

    [GlobalSetup(Target = "MemoryCache")]
    public void SetupMemoryCache()
    {
        Mc = new MemoryCacheUserCache();
        Fixtures.Fill(Mc, Users, Channels);
        AfterSetup();
    }

    [GlobalSetup(Target = "ConcurrentDictionary")]
    public void SetupDictionary()
    {
        Dict = new DictionaryUserCache();
        Fixtures.Fill(Dict, Users, Channels);
        AfterSetup();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        EngineUnderTest?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Mc?.Dispose();
    }
}
