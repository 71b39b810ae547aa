using System.Runtime.InteropServices;

namespace ReadStates.Core;

/// <summary>
/// Cache hits and misses. A hit is one operation served from memory on its first try; a miss one that had
/// to wait for a store load (its retry after the load is not counted again). The hot path pays nothing
/// here: each shard counts the operations it served under the lock it holds anyway
/// (<c>Shard.Served</c>, a plain increment); misses and the retries served after a load, both on the
/// slow path, are counted here (one pair per shard, each on its own cache line), and hits are served minus
/// those retries.
/// </summary>
internal sealed class EngineCounters(int shards)
{
    private readonly ShardCounters[] _counters = new ShardCounters[shards];

    public void Miss(int shard) => Interlocked.Increment(ref _counters[shard].Misses);

    /// <summary>An operation served after waiting for a load: the shard counted it as served, it is no hit.</summary>
    public void RetryServed(int shard) => Interlocked.Increment(ref _counters[shard].RetriesServed);

    public (long Hits, long Misses) Read(Func<int, long> servedByShard)
    {
        long hits = 0, misses = 0;
        for (int i = 0; i < _counters.Length; i++)
        {
            // Read the retries first: a retry is counted as served before it is counted here, so hits never dip below zero.
            long retries = Volatile.Read(ref _counters[i].RetriesServed);
            hits += Math.Max(0, servedByShard(i) - retries);
            misses += Volatile.Read(ref _counters[i].Misses);
        }
        return (hits, misses);
    }

    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct ShardCounters
    {
        [FieldOffset(64)] public long RetriesServed;
        [FieldOffset(72)] public long Misses;
    }
}
