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
    public sealed record Pause(DateTime At, double Ms, int Generation, string Type);

    private readonly EventPipeSession _session;
    private readonly EventPipeEventSource _source;
    private readonly Task _processing;
    private readonly Lock _gate = new();
    private readonly List<Pause> _pauses = [];
    private DateTime _suspendedAt;
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
        }
    }

    private void OnStart(GCStartTraceData e)
    {
        lock (_gate)
        {
            _generation = e.Depth;
            _type = e.Type.ToString();
        }
    }

    private void OnRestarted(GCNoUserDataTraceData e)
    {
        lock (_gate)
        {
            if (_suspendedAt == default || !_forGc) return;
            _pauses.Add(new Pause(e.TimeStamp, (e.TimeStamp - _suspendedAt).TotalMilliseconds, _generation, _type));
            _suspendedAt = default;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { _session.Stop(); } catch (Exception e) when (e is ServerNotAvailableException or IOException or TimeoutException) { }
        try { await _processing.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false); } catch (Exception) { }
        _source.Dispose();
        _session.Dispose();
    }
}
