using BenchmarkDotNet.Attributes;
using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Bench.Micro;

/// <summary>
/// The store's write path, per user written (10 changed states each): one coalesced batch of 512 users
/// per store call, as write-behind does, against one store call per user, as a write-through cache would.
/// </summary>
[MemoryDiagnoser]
public class StoreBatchWrite
{
    private const int BatchUsers = 512;
    private const int Channels = 10;

    [Params("rocksdb")]
    public string Store { get; set; } = "rocksdb";

    private IReadStateStore _store = null!;
    private string? _dir;
    private readonly StateBatch _batch = new();
    private StateBatch[] _single = null!;
    private ulong _round;

    [GlobalSetup]
    public void Setup()
    {
        (_store, _dir) = Fixtures.OpenStore(Store);
        _single = new StateBatch[BatchUsers];
        for (int i = 0; i < BatchUsers; i++) _single[i] = new StateBatch();
    }

    [GlobalCleanup]
    public void Cleanup() => Fixtures.CloseStore(_store, _dir).GetAwaiter().GetResult();

    // Different users each round, so the store sees fresh keys as well as overwrites.
    private void Build(StateBatch batch, ulong user, ulong version)
    {
        batch.BeginUser(user, version);
        for (int c = 1; c <= Channels; c++)
            batch.AddState(new ReadState { ChannelId = (ulong)c, LastMessageId = version, Version = version }, 0, 0, default);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = BatchUsers)]
    public Task Batched()
    {
        ulong round = ++_round;
        _batch.Clear();
        for (int i = 0; i < BatchUsers; i++) Build(_batch, (ulong)i + 1 + (round % 64) * BatchUsers, round);
        return _store.WriteAsync(_batch, default);
    }

    [Benchmark(OperationsPerInvoke = BatchUsers)]
    public async Task PerUser()
    {
        ulong round = ++_round;
        for (int i = 0; i < BatchUsers; i++)
        {
            var b = _single[i];
            b.Clear();
            Build(b, (ulong)i + 1 + (round % 64) * BatchUsers, round);
            await _store.WriteAsync(b, default);
        }
    }
}
