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

    public Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
    {
        // Traced: an async frame, so the span is Activity.Current only inside it.
        if (EngineTracing.Source.HasListeners()) return LoadTracedAsync(userId, into, cancellationToken);
        // Nothing listening (an engine without metrics, as in the micro-benchmarks): no clock read, no frame.
        var metrics = _metrics;
        if (metrics is null) return inner.LoadUserAsync(userId, into, cancellationToken);
        long start = Stopwatch.GetTimestamp();
        Task load;
        try
        {
            load = inner.LoadUserAsync(userId, into, cancellationToken);
        }
        catch
        {
            metrics.RecordStoreLoad(Stopwatch.GetElapsedTime(start), ok: false);
            throw;
        }
        // A store that answered synchronously (a memory store, a RocksDB block-cache hit) skips the async frame.
        if (!load.IsCompletedSuccessfully) return AwaitLoadAsync(load, metrics, start);
        metrics.RecordStoreLoad(Stopwatch.GetElapsedTime(start), ok: true);
        return load;
    }

    private static async Task AwaitLoadAsync(Task load, EngineMetrics metrics, long start)
    {
        try
        {
            await load.ConfigureAwait(false);
        }
        catch
        {
            metrics.RecordStoreLoad(Stopwatch.GetElapsedTime(start), ok: false);
            throw;
        }
        metrics.RecordStoreLoad(Stopwatch.GetElapsedTime(start), ok: true);
    }

    private async Task LoadTracedAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
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
