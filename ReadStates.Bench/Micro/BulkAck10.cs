using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>One bulk ack of 10 channels on a resident user (10k users × 50 channels): "mark these read".</summary>
[MemoryDiagnoser]
public class BulkAck10 : ResidentScenario
{
    private const int Ops = 256;
    private const int UserCount = 10_000;
    private const int ChannelCount = 50;
    private const int Batch = 10;

    private readonly AckCommand[] _commands = new AckCommand[Batch];
    private readonly AckResult[] _results = new AckResult[Batch];
    private ulong _message = 10;
    private int _cursor;

    protected override int Users => UserCount;
    protected override int Channels => ChannelCount;

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
            EngineUnderTest.BulkAckAsync(u, _commands, _results).GetAwaiter().GetResult();
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

    [Benchmark(OperationsPerInvoke = Ops)] public bool ConcurrentLru() => Baseline(Lru);
    [Benchmark(OperationsPerInvoke = Ops)] public bool MemoryCache() => Baseline(Mc);
    [Benchmark(OperationsPerInvoke = Ops)] public bool ConcurrentDictionary() => Baseline(Dict);
}
