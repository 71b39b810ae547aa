using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>
/// One forward ack on a resident user with 50 channels, users visited in a scattered order. With 100
/// users everything sits in the CPU caches (the CPU cost of an ack); with 100k users (5 M states)
/// nearly every ack misses the caches, as it does in a service holding millions of users.
/// </summary>
[MemoryDiagnoser]
public class AckResident : ResidentScenario
{
    private const int Ops = 1024;
    [Params(100, 100_000)]
    public int UserCount { get; set; }

    private const int ChannelCount = 50;

    private ulong _message = 10;
    private int _cursor;

    protected override int Users => UserCount;
    protected override int Channels => ChannelCount;

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
            sum += EngineUnderTest.AckAsync(u, new AckCommand { ChannelId = c, MessageId = ++_message }).Result.State.Version;
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

    [Benchmark(OperationsPerInvoke = Ops)] public ulong ConcurrentLru() => Baseline(Lru);
    [Benchmark(OperationsPerInvoke = Ops)] public ulong MemoryCache() => Baseline(Mc);
    [Benchmark(OperationsPerInvoke = Ops)] public ulong ConcurrentDictionary() => Baseline(Dict);
}
