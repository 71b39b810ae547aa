using System.Diagnostics.Metrics;

namespace ReadStates.Core;

/// <summary>
/// The engine's instruments (meter <c>ReadStates</c>). Everything is observed from counters the engine
/// keeps anyway, on scrape, so the hot path pays nothing for metrics.
/// </summary>
public sealed class EngineMetrics : IDisposable
{
    public const string MeterName = "ReadStates";

    private readonly Meter _meter;
    private readonly ReadStateEngine _engine;
    private EngineStats _cached;
    private long _cachedAt = long.MinValue / 2;
    private readonly Lock _gate = new();

    public EngineMetrics(ReadStateEngine engine, IMeterFactory? meterFactory = null)
    {
        _engine = engine;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _meter.CreateObservableGauge("readstates.cache.resident_users", () => Stats().ResidentUsers, "{user}", "Users resident in the cache.");
        _meter.CreateObservableGauge("readstates.cache.resident_states", () => Stats().ResidentStates, "{state}", "Read states resident in the cache (capacity units).");
        _meter.CreateObservableGauge("readstates.cache.arena_bytes", () => Stats().ReservedStateSlots * System.Runtime.CompilerServices.Unsafe.SizeOf<ReadState>() + Stats().ReservedMentionWords * 8, "By", "Bytes reserved by the state and mention arenas.");
        _meter.CreateObservableCounter("readstates.cache.loads", () => Stats().Loads, "{user}", "Users loaded from the store on a miss.");
        _meter.CreateObservableCounter("readstates.cache.evictions", () => Stats().Evictions, "{user}", "Users evicted from the cache.");
        _meter.CreateObservableGauge("readstates.writebehind.queued_users", () => Stats().QueuedDirtyUsers, "{user}", "Resident users with changes not yet written.");
        _meter.CreateObservableGauge("readstates.writebehind.backlog_states", () => Stats().BacklogStates, "{state}", "States of evicted users waiting for the store.");
        _meter.CreateObservableCounter("readstates.store.flushed_users", () => Stats().FlushedUsers, "{user}", "Users written to the store.");
        _meter.CreateObservableCounter("readstates.store.write_failures", () => Stats().StoreWriteFailures, "{failure}", "Failed store writes (each is retried).");
        _meter.CreateObservableGauge("readstates.watch.watched_users", () => Stats().WatchedUsers, "{user}", "Users with at least one Watch subscription.");
        _meter.CreateObservableGauge("readstates.store.healthy", () => Stats().StoreHealthy ? 1 : 0, null, "1 while the last store write succeeded.");
    }

    // One scrape reads many instruments: take the shard locks once per scrape, not once per instrument.
    private EngineStats Stats()
    {
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (now - _cachedAt > 200)
            {
                _cached = _engine.GetStats();
                _cachedAt = now;
            }
            return _cached;
        }
    }

    internal Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();
}
