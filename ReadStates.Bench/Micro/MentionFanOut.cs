using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>
/// One message mentioning N resident users. Mentions go to 8 channels in turn; every 128 messages the
/// mentioned users ack those channels (as readers do), which keeps mention sets bounded (≤ 16 ids) on
/// both sides. The acks are part of the measured cost, amortized: 8 acks per user per 128 messages.
/// </summary>
[MemoryDiagnoser]
public class MentionFanOut : ResidentScenario
{
    private const int Ops = 128;
    private const int UserCount = 10_000;
    private const int ChannelCount = 50;
    private const int MentionChannels = 8;

    [Params(1, 10, 100)]
    public int FanOut { get; set; }

    private ulong[][] _groups = null!;
    private ulong _message = 10;
    private int _cursor;

    protected override int Users => UserCount;
    protected override int Channels => ChannelCount;

    // One group of mentioned users per channel slot, so the acks clear exactly what was mentioned.
    protected override void AfterSetup()
    {
        _groups = new ulong[MentionChannels][];
        var rng = new Random(42);
        for (int g = 0; g < MentionChannels; g++)
            _groups[g] = [.. Enumerable.Range(0, FanOut).Select(_ => (ulong)rng.Next(1, UserCount + 1))];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public int Engine()
    {
        int counted = 0;
        for (int i = 0; i < Ops; i++)
        {
            int slot = _cursor++ % MentionChannels;
            counted += EngineUnderTest.AddMentionsAsync((ulong)slot + 1, ++_message, _groups[slot], default, null).Result;
        }
        ulong upTo = ++_message;
        for (int slot = 0; slot < MentionChannels; slot++)
            foreach (ulong u in _groups[slot])
                _ = EngineUnderTest.AckAsync(u, new AckCommand { ChannelId = (ulong)slot + 1, MessageId = upTo }).Result;
        return counted;
    }

    private int Baseline(IUserCache cache)
    {
        int counted = 0;
        for (int i = 0; i < Ops; i++)
        {
            int slot = _cursor++ % MentionChannels;
            ulong m = ++_message;
            foreach (ulong u in _groups[slot])
                if (cache.GetOrAdd(u).AddMention((ulong)slot + 1, m)) counted++;
        }
        ulong upTo = ++_message;
        for (int slot = 0; slot < MentionChannels; slot++)
            foreach (ulong u in _groups[slot])
                cache.GetOrAdd(u).Ack((ulong)slot + 1, upTo);
        return counted;
    }

    [Benchmark(OperationsPerInvoke = Ops)] public int ConcurrentLru() => Baseline(Lru);
    [Benchmark(OperationsPerInvoke = Ops)] public int MemoryCache() => Baseline(Mc);
    [Benchmark(OperationsPerInvoke = Ops)] public int ConcurrentDictionary() => Baseline(Dict);
}
