using System.Diagnostics.Tracing;

namespace ReadStates.Bench.Memory;

/// <summary>
/// Every GC pause, from the runtime's own events: the time from GCSuspendEEBegin to GCRestartEEEnd is
/// the time managed threads stood still. Suspensions for other reasons (tiered compilation's rejit,
/// the debugger) are counted apart. Cross-checked against GC.GetTotalPauseDuration by the caller.
/// </summary>
internal sealed class GcPauseListener : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly Lock _gate = new();
    private DateTime _suspendedAt;
    private bool _forGc;
    private DateTime _since = DateTime.MinValue;
    private readonly List<double> _pausesMs = [];
    public int OtherSuspensions { get; private set; }
    public double OtherMaxMs { get; private set; }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(eventSource, EventLevel.Informational, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        // Called before the constructor finishes for sources that already exist: the gate may be null then.
        var gate = _gate;
        if (gate is null) return;
        switch (e.EventName)
        {
            case "GCSuspendEEBegin_V1":
                lock (gate)
                {
                    _suspendedAt = e.TimeStamp;
                    // SUSPEND_FOR_GC = 1, SUSPEND_FOR_GC_PREP = 6; anything else is not a collection.
                    int at = e.PayloadNames?.IndexOf("Reason") ?? -1;
                    uint reason = at >= 0 && e.Payload?[at] is IConvertible c ? c.ToUInt32(null) : 1;
                    _forGc = reason is 1 or 6;
                }
                break;
            case "GCRestartEEEnd_V1":
                lock (gate)
                {
                    double ms = (e.TimeStamp - _suspendedAt).TotalMilliseconds;
                    // Events arrive late: a pause that began before the last Reset belongs to the previous phase.
                    if (_suspendedAt == default || _suspendedAt.ToUniversalTime() < _since) { }
                    else if (_forGc) _pausesMs.Add(ms);
                    else { OtherSuspensions++; OtherMaxMs = Math.Max(OtherMaxMs, ms); }
                    _suspendedAt = default;
                }
                break;
        }
    }

    public void Reset()
    {
        lock (_gate)
        {
            _pausesMs.Clear();
            _since = DateTime.UtcNow;
            OtherSuspensions = 0;
            OtherMaxMs = 0;
        }
    }

    public (int Count, double MaxMs, double TotalMs, double P99Ms) Snapshot()
    {
        lock (_gate)
        {
            if (_pausesMs.Count == 0) return (0, 0, 0, 0);
            var sorted = _pausesMs.Order().ToArray();
            return (sorted.Length, sorted[^1], sorted.Sum(), sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))]);
        }
    }
}

/// <summary>Polls GC.GetGCMemoryInfo for each GC kind and keeps the longest pause it has seen (a second opinion).</summary>
internal sealed class GcInfoPoller : IDisposable
{
    private static readonly GCKind[] Kinds = [GCKind.Ephemeral, GCKind.FullBlocking, GCKind.Background];
    private readonly long[] _seen = new long[Kinds.Length];
    private readonly Thread _thread;
    private volatile bool _stop;
    private double _maxPauseMs;

    public GcInfoPoller()
    {
        Reset();
        _thread = new Thread(Run) { IsBackground = true, Name = "gc-info-poller" };
        _thread.Start();
    }

    public double MaxPauseMs => Volatile.Read(ref _maxPauseMs);

    private void Run()
    {
        while (!_stop)
        {
            for (int k = 0; k < Kinds.Length; k++)
            {
                var info = GC.GetGCMemoryInfo(Kinds[k]);
                if (info.Index <= Volatile.Read(ref _seen[k])) continue;
                Volatile.Write(ref _seen[k], info.Index);
                foreach (var p in info.PauseDurations)
                    if (p.TotalMilliseconds > _maxPauseMs) Volatile.Write(ref _maxPauseMs, p.TotalMilliseconds);
            }
            Thread.Sleep(2);
        }
    }

    /// <summary>Forgets what was seen so far, including the GCs that already happened.</summary>
    public void Reset()
    {
        for (int k = 0; k < Kinds.Length; k++) Volatile.Write(ref _seen[k], GC.GetGCMemoryInfo(Kinds[k]).Index);
        Volatile.Write(ref _maxPauseMs, 0);
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
