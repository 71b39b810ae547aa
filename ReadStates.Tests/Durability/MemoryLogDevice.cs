using ReadStates.Core.Durability;

namespace ReadStates.Tests.Durability;

/// <summary>
/// A log device in memory that knows which bytes were synced: <see cref="CrashImage"/> is what a disk
/// would hold after kill -9 / power loss at this instant (synced bytes only). Faults on demand.
/// </summary>
internal sealed class MemoryLogDevice : ILogDevice
{
    private readonly object _gate = new();
    private readonly SortedDictionary<long, Segment> _segments = [];
    private long _current = -1;

    private sealed class Segment
    {
        public readonly List<byte> Bytes = [];
        public int Synced;
    }

    public MemoryLogDevice() { }

    private MemoryLogDevice(IEnumerable<(long Id, byte[] Bytes)> segments)
    {
        foreach (var (id, bytes) in segments)
        {
            var s = new Segment();
            s.Bytes.AddRange(bytes);
            s.Synced = bytes.Length;
            _segments[id] = s;
        }
    }

    public string Location => "memory";
    public int Syncs;
    public volatile bool FailSyncs;
    /// <summary>While set, Sync blocks until it is released.</summary>
    public volatile ManualResetEventSlim? SyncGate;
    public bool Disposed;

    public IReadOnlyList<long> Segments()
    {
        lock (_gate) return [.. _segments.Keys];
    }

    public ILogSegmentReader OpenRead(long segment)
    {
        lock (_gate) return new Reader([.. _segments[segment].Bytes]);
    }

    public void StartSegment(long segment)
    {
        lock (_gate)
        {
            if (_segments.ContainsKey(segment)) throw new IOException($"segment {segment} exists");
            _segments[segment] = new Segment();
            _current = segment;
        }
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        lock (_gate) _segments[_current].Bytes.AddRange(bytes);
    }

    public void Sync()
    {
        SyncGate?.Wait(TimeSpan.FromSeconds(30));
        if (FailSyncs) throw new IOException("injected fsync failure");
        lock (_gate)
        {
            var s = _segments[_current];
            s.Synced = s.Bytes.Count;
            Syncs++;
        }
    }

    public void Delete(long segment)
    {
        lock (_gate) _segments.Remove(segment);
    }

    public void Dispose() => Disposed = true;

    /// <summary>A new device holding only what had been synced: the disk after a crash now.</summary>
    public MemoryLogDevice CrashImage()
    {
        lock (_gate) return new MemoryLogDevice(_segments.Select(kv => (kv.Key, kv.Value.Bytes.Take(kv.Value.Synced).ToArray())).ToList());
    }

    /// <summary>A new device with every byte appended, synced or not (a process crash: the OS keeps its cache).</summary>
    public MemoryLogDevice ProcessCrashImage()
    {
        lock (_gate) return new MemoryLogDevice(_segments.Select(kv => (kv.Key, kv.Value.Bytes.ToArray())).ToList());
    }

    public byte[] Bytes(long segment)
    {
        lock (_gate) return [.. _segments[segment].Bytes];
    }

    public void Replace(long segment, byte[] bytes)
    {
        lock (_gate)
        {
            var s = new Segment();
            s.Bytes.AddRange(bytes);
            s.Synced = bytes.Length;
            _segments[segment] = s;
        }
    }

    private sealed class Reader(byte[] bytes) : ILogSegmentReader
    {
        private int _at;

        public int Read(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, bytes.Length - _at);
            bytes.AsSpan(_at, n).CopyTo(buffer);
            _at += n;
            return n;
        }

        public void Dispose() { }
    }
}
