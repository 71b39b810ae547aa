using System.Diagnostics;

namespace ReadStates.Core.Storage;

/// <summary>
/// Wraps the engine's store: times every load and write into <see cref="EngineMetrics"/> (once it is
/// attached) and makes a <c>store.load</c> / <c>store.write</c> span when tracing listens. Both calls are
/// off the resident hot path (a miss, or write-behind), so a stopwatch read and a histogram record are
/// cheap next to the I/O.
/// </summary>
internal sealed class InstrumentedStore(IReadStateStore inner) : IReadStateStore
{
    private volatile EngineMetrics? _metrics;

    public IReadStateStore Inner => inner;

    public string Name => inner.Name;

    public void Attach(EngineMetrics metrics) => _metrics = metrics;

    public async Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
    {
        using var activity = EngineTracing.Source.StartActivity("store.load", ActivityKind.Client);
        activity?.SetTag(EngineTracing.StoreTag, inner.Name);
        activity?.SetTag(EngineTracing.UserIdTag, userId);
        long start = Stopwatch.GetTimestamp();
        try
        {
            await inner.LoadUserAsync(userId, into, cancellationToken).ConfigureAwait(false);
            _metrics?.RecordStoreLoad(Stopwatch.GetElapsedTime(start), ok: true);
        }
        catch (Exception ex)
        {
            _metrics?.RecordStoreLoad(Stopwatch.GetElapsedTime(start), ok: false);
            EngineTracing.Fail(activity, ex);
            throw;
        }
    }

    public async Task WriteAsync(StateBatch batch, CancellationToken cancellationToken)
    {
        using var activity = EngineTracing.Source.StartActivity("store.write", ActivityKind.Client);
        activity?.SetTag(EngineTracing.StoreTag, inner.Name);
        activity?.SetTag(EngineTracing.UsersTag, batch.UserCount);
        activity?.SetTag(EngineTracing.StatesTag, batch.StateCount);
        long start = Stopwatch.GetTimestamp();
        try
        {
            await inner.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            _metrics?.RecordStoreWrite(Stopwatch.GetElapsedTime(start), ok: true);
        }
        catch (Exception ex)
        {
            _metrics?.RecordStoreWrite(Stopwatch.GetElapsedTime(start), ok: false);
            EngineTracing.Fail(activity, ex);
            throw;
        }
    }

    // The host owns (and disposes) the store it handed to the engine.
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
