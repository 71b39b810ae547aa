using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using ReadStates.Bench.Shared;
using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Bench.Micro;

/// <summary>
/// An ack on a user who is not resident, in a cache full of dirty users: load (20 states), ack, evict a
/// dirty user, whose states must reach the store. Write-behind runs (flush every 200 ms) during the
/// measurement. The LRU baseline hooks eviction and queues dirty users for a background writer; it does
/// not guard against reloading a user whose write is still queued (the engine does), so it is the
/// cheaper, less correct design.
/// </summary>
[MemoryDiagnoser]
public class EvictionWriteBehind
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
    private readonly ConcurrentQueue<(ulong User, UserObject State)> _evicted = new();
    private CancellationTokenSource _stop = null!;
    private Task _writer = Task.CompletedTask;
    private readonly StateBatch _batch = new();
    private ulong _message = 10;
    private int _cursor;

    [GlobalSetup]
    public void Setup()
    {
        (_store, _dir) = Fixtures.OpenStore(Store);
        Fixtures.FillStore(_store, Users, Channels);
        _engine = new ReadStateEngine(Fixtures.Options(ResidentUsers * Channels, shards: 4, maxStatesPerUser: 100), _store);
        _engine.Start();
        _lru = new LruUserCache(ResidentUsers);
        _lru.Lru.Events.Value!.ItemRemoved += (_, e) =>
        {
            if (e.Value!.IsDirty) _evicted.Enqueue((e.Key, e.Value));
        };
        _stop = new CancellationTokenSource();
        _writer = Task.Run(() => WriteBehindLoop(_stop.Token));
    }

    private async Task WriteBehindLoop(CancellationToken ct)
    {
        var batch = new StateBatch();
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(200, ct); } catch (OperationCanceledException) { }
            while (!_evicted.IsEmpty)
            {
                batch.Clear();
                while (batch.UserCount < 512 && _evicted.TryDequeue(out var item)) item.State.AppendDirty(item.User, batch);
                await _store.WriteAsync(batch, default);
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        _writer.GetAwaiter().GetResult();
        _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Fixtures.CloseStore(_store, _dir).GetAwaiter().GetResult();
    }

    private ulong NextUser() => (ulong)(1 + (_cursor++ % Users));

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public async Task<ulong> Engine()
    {
        ulong sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            ulong u = NextUser();
            var result = await _engine.AckAsync(u, new AckCommand { ChannelId = 1 + (ulong)(i % Channels), MessageId = ++_message });
            sum += result.State.Version;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public async Task<ulong> ConcurrentLru()
    {
        ulong sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            ulong u = NextUser();
            if (!_lru.TryGet(u, out var user))
            {
                _batch.Clear();
                await _store.LoadUserAsync(u, _batch, default);
                user = UserObject.FromBatch(_batch);
                _lru.Set(u, user);
            }
            sum += user.Ack(1 + (ulong)(i % Channels), ++_message).State.Version;
        }
        return sum;
    }
}
