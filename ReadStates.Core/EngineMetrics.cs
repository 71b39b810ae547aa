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
        _meter.CreateObservableGauge("readstates.writebehind.queued_users", () => Stats().QueuedDirtyUsers, "{user}", "Distinct resident users waiting in the write-behind queue.");
        _meter.CreateObservableGauge("readstates.writebehind.dirty_users", () => Stats().DirtyUsers, "{user}", "Distinct users (resident or evicted) with changes the store does not have yet.");
        _meter.CreateObservableGauge("readstates.writebehind.isolated_users", () => Stats().IsolatedUsers, "{user}", "Users whose store write keeps failing alone; written on their own with backoff.");
        _meter.CreateObservableGauge("readstates.writebehind.backlog_states", () => Stats().BacklogStates, "{state}", "States held in memory for evicted dirty users (all of each such user's states), against Engine:MaxBacklogStates.");
        _meter.CreateObservableCounter("readstates.store.flushed_users", () => Stats().FlushedUsers, "{user}", "User writes that reached the store (one per user per successful write; retries are not counted).");
        _meter.CreateObservableCounter("readstates.changelog.groups", () => Stats().ChangeLog?.Groups ?? 0, "{group}", "Group commits of the durable change log.");
        _meter.CreateObservableCounter("readstates.changelog.waits", () => Stats().ChangeLog?.Calls ?? 0, "{call}", "Calls that waited for a group commit.");
        _meter.CreateObservableCounter("readstates.changelog.syncs", () => Stats().ChangeLog?.Syncs ?? 0, "{sync}", "fdatasync calls of the change log.");
        _meter.CreateObservableCounter("readstates.changelog.sync_time", () => Stats().ChangeLog?.SyncSeconds ?? 0, "s", "Time spent in fdatasync of the change log.");
        _meter.CreateObservableGauge("readstates.changelog.bytes", () => Stats().ChangeLog?.LiveBytes ?? 0, "By", "Bytes in the change log's segments not yet deleted.");
        _meter.CreateObservableCounter("readstates.store.write_failures", () => Stats().StoreWriteFailures, "{failure}", "Failed store writes (each is retried).");
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
