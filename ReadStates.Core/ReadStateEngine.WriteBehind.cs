using System.Diagnostics;
using ReadStates.Core.Storage;

namespace ReadStates.Core;

/// <summary>
/// Write-behind: every half flush interval, dirty users are collected shard by shard into one reused
/// batch, written to the store, and marked persisted. A failing store is retried with capped
/// exponential backoff; nothing is dropped. Disposal flushes everything before returning.
/// </summary>
public sealed partial class ReadStateEngine
{
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private readonly SemaphoreSlim _wakeSignal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly StateBatch _batch = new();
    private readonly List<ShardRun> _runs = [];
    private Task? _loop;
    private long _cycle;
    private long _flushedUsers;
    private long _writeFailures;
    private long _writeStartedAt; // TimeProvider timestamp of the store write in flight; 0 = none
    private int _disposed;
    // TimeProvider timestamp of the start of the last flush pass that wrote everything it collected:
    // every change made before it is in the store. Readiness and the unwritten-age gauge read it.
    private long _lastCompletedPass;

    /// <summary>
    /// Upper bound on the age of the oldest change not yet in the store: time since the start of the last
    /// flush pass that wrote everything it collected. Small while the store keeps up; grows while writes fail or stall.
    /// </summary>
    public TimeSpan UnwrittenAge => _time.GetElapsedTime(Interlocked.Read(ref _lastCompletedPass));

    /// <summary>The write-behind loop runs: started and neither stopped nor ended.</summary>
    public bool IsRunning => _loop is { IsCompleted: false } && _disposed == 0;

    /// <summary>Starts the write-behind loop.</summary>
    public void Start()
    {
        if (_loop is not null) throw new InvalidOperationException("The engine is already started.");
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        EngineLog.Started(_shared.Logger, _shards.Length, Options.CapacityStates, Options.FlushInterval);
        Interlocked.Exchange(ref _lastCompletedPass, _time.GetTimestamp());
        _loop = Task.Run(LoopAsync);
    }

    private void WakeFlusher()
    {
        if (_wakeSignal.CurrentCount == 0)
        {
            try { _wakeSignal.Release(); } catch (SemaphoreFullException) { }
        }
    }

    private async Task LoopAsync()
    {
        // Half the interval between passes: a change waits at most one interval plus one write.
        var period = Options.FlushInterval / 2;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _wakeSignal.WaitAsync(period, _stop.Token).ConfigureAwait(false);
                SweepTombstonesIfDue();
                await FlushOnceAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                EngineLog.LoopFailed(_shared.Logger, ex);
            }
        }
    }

    /// <summary>Writes every change made before the call; retries a failing store until it succeeds or <paramref name="cancellationToken"/> fires.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default) =>
        await FlushOnceAsync(cancellationToken).ConfigureAwait(false);

    private async Task<long> FlushOnceAsync(CancellationToken ct)
    {
        await _flushGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            long cycle = ++_cycle;
            long passStart = _time.GetTimestamp();
            long users = 0;
            int maxUsers = Options.FlushBatchUsers;
            int shardIndex = 0;
            while (true)
            {
                _batch.Clear();
                _runs.Clear();
                while (shardIndex < _shards.Length && _batch.UserCount < maxUsers)
                {
                    int start = _batch.UserCount;
                    int added = _shards[shardIndex].CollectDirty(_batch, maxUsers, cycle);
                    if (added > 0) _runs.Add(new ShardRun(shardIndex, start, added));
                    if (_batch.UserCount < maxUsers) shardIndex++;
                }
                if (_batch.UserCount == 0)
                {
                    Interlocked.Exchange(ref _lastCompletedPass, passStart);
                    return users;
                }
                try
                {
                    await WriteWithRetryAsync(_batch, ct).ConfigureAwait(false);
                }
                catch
                {
                    // Abandoned (shutdown or caller cancelled): the users are still dirty; queue them again.
                    foreach (var run in _runs) _shards[run.Shard].Requeue(_batch.Users.Slice(run.Start, run.Count));
                    throw;
                }
                // Each shard's users are contiguous in the batch: one lock acquisition per shard, no re-hashing.
                foreach (var run in _runs) _shards[run.Shard].MarkPersisted(_batch.Users.Slice(run.Start, run.Count));
                _metrics?.RecordBatch(_batch.UserCount, _batch.StateCount);
                users += _batch.UserCount;
            }
        }
        finally
        {
            _flushGate.Release();
        }
    }

    private async Task WriteWithRetryAsync(StateBatch batch, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                Volatile.Write(ref _writeStartedAt, Math.Max(1, _time.GetTimestamp()));
                try
                {
                    await _shared.Store.WriteAsync(batch, ct).ConfigureAwait(false);
                }
                finally
                {
                    Volatile.Write(ref _writeStartedAt, 0);
                }
                if (attempt > 1) EngineLog.WriteRecovered(_shared.Logger, attempt);
                _shared.StoreHealthy = true;
                Interlocked.Add(ref _flushedUsers, batch.UserCount);
                return;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                Interlocked.Increment(ref _writeFailures);
                _shared.StoreHealthy = false;
                double ms = Math.Min(Options.MaxRetryDelay.TotalMilliseconds, 25 * Math.Pow(2, Math.Min(attempt, 20)));
                var delay = TimeSpan.FromMilliseconds(ms * (0.5 + Random.Shared.NextDouble() / 2));
                EngineLog.WriteFailed(_shared.Logger, batch.UserCount, attempt, (long)delay.TotalMilliseconds, ex);
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A shard's users in the flush batch: <see cref="Count"/> users from <see cref="Start"/>.</summary>
    private readonly record struct ShardRun(int Shard, int Start, int Count);

    /// <summary>How long the store write in flight has been running; zero when none is.</summary>
    private TimeSpan WriteInFlightFor
    {
        get
        {
            long started = Volatile.Read(ref _writeStartedAt);
            return started == 0 ? TimeSpan.Zero : _time.GetElapsedTime(started);
        }
    }

    /// <summary>Stops write-behind and flushes everything still dirty (retrying up to <see cref="EngineOptions.ShutdownFlushTimeout"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        using var timeout = new CancellationTokenSource(Options.ShutdownFlushTimeout, _time);
        var watch = Stopwatch.StartNew();
        try
        {
            long users = await FlushOnceAsync(timeout.Token).ConfigureAwait(false);
            EngineLog.FinalFlush(_shared.Logger, users, watch.ElapsedMilliseconds);
        }
        catch (OperationCanceledException ex)
        {
            var stats = GetStats();
            EngineLog.FinalFlushGaveUp(_shared.Logger, Options.ShutdownFlushTimeout, stats.QueuedDirtyUsers + stats.EvictedDirtyUsers, ex);
        }
        _stop.Dispose();
    }
}
