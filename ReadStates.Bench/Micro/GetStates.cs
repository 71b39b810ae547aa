using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>
/// Get all states (with totals) of a resident user who has N states. The engine copies them into a
/// reused snapshot under the shard lock; the baselines take a consistent copy under the user's lock
/// (a new list), which is what a handler must do before it leaves the lock.
/// </summary>
[MemoryDiagnoser]
public class GetStates : ResidentScenario
{
    private const int UserCount = 256;

    [Params(10, 100, 1000)]
    public int States { get; set; }

    private readonly UserSnapshot _snapshot = new();

    protected override int Users => UserCount;
    protected override int Channels => States;

    [Benchmark(Baseline = true, OperationsPerInvoke = UserCount)]
    public long Engine()
    {
        long sum = 0;
        for (ulong u = 1; u <= UserCount; u++)
        {
            if (!EngineUnderTest.TryRead(u, default, _snapshot)) throw new InvalidOperationException("not resident");
            sum += _snapshot.States.Length + _snapshot.Totals.TotalMentions;
        }
        return sum;
    }

    private static long Baseline(IUserCache cache)
    {
        long sum = 0;
        for (ulong u = 1; u <= UserCount; u++)
        {
            if (!cache.TryGet(u, out var user)) throw new InvalidOperationException("not resident");
            var states = user.Snapshot(out long mentions);
            sum += states.Count + mentions;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = UserCount)] public long ConcurrentLru() => Baseline(Lru);
    [Benchmark(OperationsPerInvoke = UserCount)] public long MemoryCache() => Baseline(Mc);
    [Benchmark(OperationsPerInvoke = UserCount)] public long ConcurrentDictionary() => Baseline(Dict);
}
