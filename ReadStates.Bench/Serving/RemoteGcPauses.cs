using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace ReadStates.Bench.Serving;

/// <summary>
/// Every GC pause of another .NET process, from its runtime's own events over EventPipe (the diagnostics IPC
/// socket, <see cref="DiagnosticsClient"/>): a pause runs from GCSuspendEEBegin to GCRestartEEEnd, the time its
/// managed threads stood still, labelled with the generation of the collection it served.
/// </summary>
internal sealed class RemoteGcPauses : IAsyncDisposable
{
    /// <summary>One pause: <paramref name="Ms"/> in all, of which <paramref name="SuspendMs"/> stopping the threads
    /// (GCSuspendEEBegin to GCSuspendEEEnd) and <paramref name="GcMs"/> the collection itself (GCStart to GCEnd).
    /// <paramref name="PromotedBytes"/>: what the collection kept (GCHeapStats); <paramref name="MarkedByRoot"/>: bytes marked from each root kind
    /// (GCMarkWithType: stack, finalization queue, handles, older generation (cards), ...), which says where a collection's marking went; <paramref name="GcHandles"/> and <paramref name="PinnedObjects"/>: what it had to consider besides.</summary>
    public sealed record Pause(DateTime At, double Ms, int Generation, string Type, double SuspendMs, double GcMs, long PromotedBytes, IReadOnlyDictionary<string, long> MarkedByRoot,
        long GcHandles, long PinnedObjects);

    private readonly EventPipeSession _session;
    private readonly EventPipeEventSource _source;
    private readonly Task _processing;
    private readonly Lock _gate = new();
    private readonly List<Pause> _pauses = [];
    private DateTime _suspendedAt;
    private DateTime _suspendEnd;
    private DateTime _gcStart;
    private DateTime _gcEnd;
    private long _promoted;
    private long _handles;
    private long _pinned;
    private Dictionary<string, long> _marked = [];
    private bool _forGc;
    private int _generation = -1;
    private string _type = "";

    public RemoteGcPauses(int pid)
    {
        var providers = new[] { new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, (long)ClrTraceEventParser.Keywords.GC) };
        _session = new DiagnosticsClient(pid).StartEventPipeSession(providers, requestRundown: false, circularBufferMB: 64);
        _source = new EventPipeEventSource(_session.EventStream);
        _source.Clr.GCSuspendEEStart += OnSuspend;
        _source.Clr.GCStart += OnStart;
        _source.Clr.GCSuspendEEStop += e => { lock (_gate) _suspendEnd = e.TimeStamp; };
        _source.Clr.GCStop += e => { lock (_gate) _gcEnd = e.TimeStamp; };
        _source.Clr.GCHeapStats += e =>
        {
            lock (_gate)
            {
                _promoted = e.TotalPromotedSize0 + e.TotalPromotedSize1 + e.TotalPromotedSize2;
                _handles = e.GCHandleCount;
                _pinned = e.PinnedObjectCount;
            }
        };
        _source.Clr.GCMarkWithType += e =>
        {
            string root = RootName(e.Type);
            lock (_gate) _marked[root] = _marked.GetValueOrDefault(root) + e.Promoted;
        };
        _source.Clr.GCRestartEEStop += OnRestarted;
        _processing = Task.Run(() => _source.Process());
    }

    public IReadOnlyList<Pause> Pauses
    {
        get { lock (_gate) return [.. _pauses]; }
    }

    private void OnSuspend(GCSuspendEETraceData e)
    {
        lock (_gate)
        {
            _suspendedAt = e.TimeStamp;
            // A suspension for a collection (or its preparation); others (tiering, debugger) are not GC pauses.
            _forGc = e.Reason is GCSuspendEEReason.SuspendForGC or GCSuspendEEReason.SuspendForGCPrep;
            _generation = -1;
            _type = "";
            _suspendEnd = _gcStart = _gcEnd = default;
            _promoted = _handles = _pinned = 0;
            _marked = [];
        }
    }

    private void OnStart(GCStartTraceData e)
    {
        lock (_gate)
        {
            _generation = e.Depth;
            _gcStart = e.TimeStamp;
            _type = e.Type.ToString();
        }
    }

    private void OnRestarted(GCNoUserDataTraceData e)
    {
        lock (_gate)
        {
            if (_suspendedAt == default || !_forGc) return;
            double suspend = _suspendEnd == default ? double.NaN : (_suspendEnd - _suspendedAt).TotalMilliseconds;
            double gc = _gcStart == default || _gcEnd == default ? double.NaN : (_gcEnd - _gcStart).TotalMilliseconds;
            _pauses.Add(new Pause(e.TimeStamp, (e.TimeStamp - _suspendedAt).TotalMilliseconds, _generation, _type, suspend, gc, _promoted, _marked, _handles, _pinned));
            _suspendedAt = default;
        }
    }

    // The runtime's GC root kinds (gcinterface.h, mark_root_type) as GCMarkWithType numbers them.
    private static string RootName(int type) => type switch
    {
        0 => "stack", 1 => "finalizeQueue", 2 => "handles", 3 => "olderGen", 4 => "sizedRef", 5 => "overflow",
        6 => "dependentHandles", 7 => "newFinalizeQueue", 8 => "steal", 9 => "bgc", _ => $"root{type}",
    };

    public async ValueTask DisposeAsync()
    {
        try { _session.Stop(); } catch (Exception e) when (e is ServerNotAvailableException or IOException or TimeoutException) { }
        try { await _processing.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); } catch (Exception) { }
        _source.Dispose();
        _session.Dispose();
    }
}
