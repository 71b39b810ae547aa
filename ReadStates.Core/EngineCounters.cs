using System.Runtime.InteropServices;

namespace ReadStates.Core;

/// <summary>
/// Cache hits and misses, one pair of counters per shard, each pair on its own cache line: threads
/// working on different shards never share a line, and threads on the same shard already contend on
/// its lock. A hit is one operation served from memory on its first try; a miss one that had to wait
/// for a store load (its retry after the load is not counted again).
/// </summary>
internal sealed class EngineCounters(int shards)
{
    // WARNING: the hit counter is on the resident hot path: one uncontended atomic add, no lock, no allocation.
    private readonly ShardCounters[] _counters = new ShardCounters[shards];

    public void Hit(int shard) => Interlocked.Increment(ref _counters[shard].Hits);

    public void Miss(int shard) => Interlocked.Increment(ref _counters[shard].Misses);

    public (long Hits, long Misses) Read()
    {
        long hits = 0, misses = 0;
        for (int i = 0; i < _counters.Length; i++)
        {
            hits += Volatile.Read(ref _counters[i].Hits);
            misses += Volatile.Read(ref _counters[i].Misses);
        }
        return (hits, misses);
    }

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct ShardCounters
    {
        [FieldOffset(64)] public long Hits;
        [FieldOffset(72)] public long Misses;
    }
}
