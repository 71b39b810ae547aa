using System.Diagnostics.Metrics;

namespace ReadStates.Core;

/// <summary>
/// The engine's instruments (meter <c>ReadStates</c>), in System.Diagnostics.Metrics only: the host
/// decides how they are exported. Levels and totals are observed on scrape from counters the engine
/// keeps anyway; the histograms are recorded off the hot path (store calls, flush batches).
/// Units follow UCUM (<c>s</c>, <c>By</c>, <c>{user}</c>) so exporters can suffix names
/// (<c>readstates_store_write_duration_seconds</c>, <c>readstates_cache_hits_total</c>).
/// </summary>
public sealed class EngineMetrics : IDisposable
{
    public const string MeterName = "ReadStates";

    // Store calls: 100 µs (a resident RocksDB block) to 10 s (a failing remote store timing out).
    private static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly int[] BatchBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000, 100000];
    private static readonly KeyValuePair<string, object?> Ok = new("outcome", "ok");
    private static readonly KeyValuePair<string, object?> Error = new("outcome", "error");

    private readonly Meter _meter;
    private readonly ReadStateEngine _engine;
    private readonly Histogram<double> _storeLoad;
    private readonly Histogram<double> _storeWrite;
    private readonly Histogram<int> _batchUsers;
    private readonly Histogram<int> _batchStates;
    private EngineStats _cached;
    private long _cachedAt = long.MinValue / 2;
    private readonly Lock _gate = new();

    public EngineMetrics(ReadStateEngine engine, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        var m = _meter;

        m.CreateObservableGauge("readstates.cache.resident_users", () => Stats().ResidentUsers, "{user}", "Users resident in the cache.");
        m.CreateObservableGauge("readstates.cache.resident_states", () => Stats().ResidentStates, "{state}", "Read states resident in the cache (capacity units).");
        m.CreateObservableGauge("readstates.cache.arena.size", () => Stats().ReservedStateSlots * System.Runtime.CompilerServices.Unsafe.SizeOf<ReadState>() + Stats().ReservedMentionWords * 8, "By", "Bytes reserved by the state and mention arenas.");
        m.CreateObservableCounter("readstates.cache.hits", () => Stats().Hits, "{operation}", "Operations on a user served from memory on the first try.");
        m.CreateObservableCounter("readstates.cache.misses", () => Stats().Misses, "{operation}", "Operations on a user that had to wait for a store load. Hit ratio = hits / (hits + misses).");
        m.CreateObservableCounter("readstates.cache.loads", () => Stats().Loads, "{user}", "Users loaded from the store on a miss (concurrent misses share one load).");
        m.CreateObservableCounter("readstates.cache.evictions", () => Stats().Evictions, "{user}", "Users evicted from the cache.");
        m.CreateObservableCounter("readstates.mentions.overflows", () => Stats().MentionOverflows, "{mention}", "Mentions counted past Engine:MentionIdCap, whose retry or removal is not deduplicated.");
        m.CreateObservableGauge("readstates.writebehind.queued_users", () => Stats().QueuedDirtyUsers, "{user}", "Distinct resident users waiting in the write-behind queue.");
        m.CreateObservableGauge("readstates.writebehind.dirty_users", () => Stats().DirtyUsers, "{user}", "Distinct users (resident or evicted) with changes the store does not have yet.");
        m.CreateObservableGauge("readstates.writebehind.isolated_users", () => Stats().IsolatedUsers, "{user}", "Users whose store write keeps failing alone; written on their own with backoff.");
        m.CreateObservableGauge("readstates.writebehind.backlog_states", () => Stats().BacklogStates, "{state}", "States held in memory for evicted dirty users (all of each such user's states), against Engine:MaxBacklogStates.");
        m.CreateObservableGauge("readstates.writebehind.unwritten_age", () => Stats().UnwrittenAge.TotalSeconds, "s",
            "Upper bound on how long the oldest change not yet in the store has waited: time since the start of the last flush pass that wrote everything it found.");
        m.CreateObservableCounter("readstates.store.flushed_users", () => Stats().FlushedUsers, "{user}", "User writes that reached the store (one per user per successful write; retries are not counted).");
        m.CreateObservableCounter("readstates.changelog.groups", () => Stats().ChangeLog?.Groups ?? 0, "{group}", "Group commits of the durable change log.");
        m.CreateObservableCounter("readstates.changelog.waits", () => Stats().ChangeLog?.Calls ?? 0, "{call}", "Calls that waited for a group commit.");
        m.CreateObservableCounter("readstates.changelog.syncs", () => Stats().ChangeLog?.Syncs ?? 0, "{sync}", "fdatasync calls of the change log.");
        m.CreateObservableCounter("readstates.changelog.sync_time", () => Stats().ChangeLog?.SyncSeconds ?? 0, "s", "Time spent in fdatasync of the change log.");
        m.CreateObservableGauge("readstates.changelog.size", () => Stats().ChangeLog?.LiveBytes ?? 0, "By", "Bytes in the change log's segments not yet deleted.");
        m.CreateObservableCounter("readstates.store.write_failures", () => Stats().StoreWriteFailures, "{failure}", "Failed store writes (each is retried).");
        m.CreateObservableGauge("readstates.watch.watched_users", () => Stats().WatchedUsers, "{user}", "Users with at least one Watch subscription.");
        m.CreateObservableGauge("readstates.store.healthy", () => Stats().StoreHealthy ? 1 : 0, null, "1 while the last store write succeeded and none has been in flight longer than Engine:StoreStallTimeout.");
        m.CreateObservableGauge("readstates.store.write.in_flight", () => Stats().StoreWriteInFlight.TotalSeconds, "s", "How long the store write in flight has been running (0 when none is).");

        _storeLoad = m.CreateHistogram("readstates.store.load.duration", "s", "Time to load one user from the store, by outcome (ok, error).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _storeWrite = m.CreateHistogram("readstates.store.write.duration", "s", "Time of one store write of a flush batch (each retry is one more), by outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _batchUsers = m.CreateHistogram("readstates.flush.batch.users", "{user}", "Users per store write of write-behind.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });
        _batchStates = m.CreateHistogram("readstates.flush.batch.states", "{state}", "Read states (tombstones included) per store write of write-behind.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });

        engine.Attach(this);
    }

    internal Meter Meter => _meter;

    internal void RecordStoreLoad(TimeSpan elapsed, bool ok) => _storeLoad.Record(elapsed.TotalSeconds, ok ? Ok : Error);

    internal void RecordStoreWrite(TimeSpan elapsed, bool ok) => _storeWrite.Record(elapsed.TotalSeconds, ok ? Ok : Error);

    internal void RecordBatch(int users, int states)
    {
        _batchUsers.Record(users);
        _batchStates.Record(states);
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

    public void Dispose() => _meter.Dispose();
}
