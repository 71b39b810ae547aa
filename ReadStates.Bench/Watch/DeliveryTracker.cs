using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace ReadStates.Bench.Watch;

/// <summary>
/// Ack-to-delivery latency: the load generator reports each applied ack's (user, version) with the times it
/// was sent and its reply arrived; the Watch readers report each event's (user, version) with the time it
/// arrived. Two histograms: from the reply (a version delivered before its reply was even read counts as
/// 1 µs, and is counted) and from the send (always positive: the whole path, write included).
/// </summary>
internal sealed class DeliveryTracker
{
    private const long HighestMicros = 60_000_000;

    private const int RecentDeliveries = 32;

    private sealed class UserLog
    {
        public readonly Lock Gate = new();
        public ulong DeliveredTo;
        public readonly Queue<(ulong Version, long SentAt, long RepliedAt)> Pending = new();
        /// <summary>The last few events (version reached, arrival time): when an ack reply comes after its event.</summary>
        public readonly Queue<(ulong To, long At)> Recent = new();
    }

    private readonly ConcurrentDictionary<ulong, UserLog> _users = new();
    private readonly Recorder _latency = NewRecorder();
    private readonly Recorder _fromSend = NewRecorder();

    private static Recorder NewRecorder() => HistogramFactory.With64BitBucketSize().WithValuesFrom(1).WithValuesUpTo(HighestMicros)
        .WithPrecisionOf(3).WithThreadSafeWrites().WithThreadSafeReads().Create();

    private static long Micros(long ticks) => Math.Clamp(ticks * 1_000_000 / Stopwatch.Frequency, 1, HighestMicros);
    private long _measureFrom = long.MaxValue;
    private long _acks, _events, _resyncs, _deliveredBeforeAck;

    public long Acks => Interlocked.Read(ref _acks);
    public long Events => Interlocked.Read(ref _events);
    public long Resyncs => Interlocked.Read(ref _resyncs);
    public long DeliveredBeforeAck => Interlocked.Read(ref _deliveredBeforeAck);

    /// <summary>Acks whose reply arrived at or after this timestamp are measured (the warm-up's are not).</summary>
    public void MeasureFrom(long timestamp)
    {
        Volatile.Write(ref _measureFrom, timestamp);
        _latency.Reset();
        _fromSend.Reset();
    }

    public long Pending => _users.Values.Sum(u => { lock (u.Gate) return u.Pending.Count; });

    private UserLog Of(ulong user) => _users.GetOrAdd(user, static _ => new UserLog());

    public void Acked(ulong user, ulong version, long sentAt)
    {
        long now = Stopwatch.GetTimestamp();
        var log = Of(user);
        bool measured = now >= Volatile.Read(ref _measureFrom);
        if (measured) Interlocked.Increment(ref _acks);
        lock (log.Gate)
        {
            if (version > log.DeliveredTo)
            {
                if (measured) log.Pending.Enqueue((version, sentAt, now));
                return;
            }
            if (!measured) return;
            Interlocked.Increment(ref _deliveredBeforeAck);
            _latency.RecordValue(1);
            foreach (var (to, at) in log.Recent)
            {
                if (to < version) continue;
                _fromSend.RecordValue(Micros(at - sentAt));
                break;
            }
        }
    }

    public void Delivered(ulong user, ulong toVersion, bool resync)
    {
        long now = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _events);
        if (resync) Interlocked.Increment(ref _resyncs);
        var log = Of(user);
        lock (log.Gate)
        {
            if (toVersion > log.DeliveredTo) log.DeliveredTo = toVersion;
            log.Recent.Enqueue((toVersion, now));
            if (log.Recent.Count > RecentDeliveries) log.Recent.Dequeue();
            while (log.Pending.TryPeek(out var p) && p.Version <= toVersion)
            {
                log.Pending.Dequeue();
                _latency.RecordValue(Micros(now - p.RepliedAt));
                _fromSend.RecordValue(Micros(now - p.SentAt));
            }
        }
    }

    /// <summary>From the ack's reply to its delivery.</summary>
    public HistogramBase Snapshot() => _latency.GetIntervalHistogram();

    /// <summary>From the ack's send to its delivery.</summary>
    public HistogramBase SnapshotFromSend() => _fromSend.GetIntervalHistogram();
}
