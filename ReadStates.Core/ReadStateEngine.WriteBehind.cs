using System.Diagnostics;
using System.Runtime.InteropServices;
using ReadStates.Core.Storage;

namespace ReadStates.Core;

/// <summary>
/// Write-behind: every half flush interval, dirty users are collected shard by shard into one reused
/// batch, written to the store, and marked persisted. A failing store is retried with capped
/// exponential backoff; nothing is dropped; a user whose write keeps failing alone is isolated
/// (ReadStateEngine.Isolation.cs). In durable mode each pass starts a new log segment and, once it has
/// written everything, deletes the older ones. Disposal flushes everything before returning.
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

    private void WakeFlusher()
    {
        if (_wakeSignal.CurrentCount == 0)
        {
            try { _wakeSignal.Release(); } catch (SemaphoreFullException) { }
        }
    }

    /// <summary>The write-behind thread's name, as the OS shows it (at most 15 characters on Linux).</summary>
    public const string WriteBehindThreadName = "rs-write-behind";

    /// <summary>
    /// Write-behind runs on a thread of its own rather than on the thread pool: a pass (copying dirty users,
    /// encoding them, RocksDB's synchronous write) is milliseconds of CPU, which on a pool worker delays every
    /// call queued behind it and shares a small core count evenly with the calls. Its own thread, at a lower OS
    /// priority (<see cref="EngineOptions.WriteBehindPriority"/>), is preempted as soon as a call's thread wakes.
    /// A store that completes asynchronously (ScyllaDB) still runs its I/O on the pool; this thread waits for it.
    /// </summary>
    private Task StartWriteBehindThread()
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                if (Options.WriteBehindPriority == WriteBehindPriority.Low && !ThreadNice.TryLowerCurrent(WriteBehindNice, out string? why))
                    EngineLog.PriorityNotLowered(_shared.Logger, why);
                Loop();
                ended.SetResult();
            }
            catch (Exception ex)
            {
                ended.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = WriteBehindThreadName,
        };
        thread.Start();
        return ended.Task;
    }

    /// <summary>The nice value of a low-priority write-behind thread: below every call's thread, above idle work.</summary>
    internal const int WriteBehindNice = 10;

    private void Loop()
    {
        // Half the interval between passes: a change waits at most one interval plus one write.
        var period = Options.FlushInterval / 2;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                _wakeSignal.Wait(period, _stop.Token);
                SweepTombstonesIfDue();
                FlushOnceAsync(_stop.Token).GetAwaiter().GetResult();
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

    /// <summary>One pass over every shard. Returns the users written (each once per pass).</summary>
    private async Task<long> FlushOnceAsync(CancellationToken ct, FailureBudget? budget = null)
    {
        await _flushGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            long segment = await RollLogAsync(ct).ConfigureAwait(false);
            RequeueDueIsolated(all: budget is not null);
            long cycle = ++_cycle;
            long passStart = _time.GetTimestamp();
            long users = 0;
            bool isolatedLeft = false;
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
                if (_batch.UserCount == 0) break;
                HashSet<ulong>? unwritten;
                try
                {
                    unwritten = await WriteBatchAsync(_batch, ct, budget).ConfigureAwait(false);
                }
                catch
                {
                    // Abandoned (shutdown or caller cancelled): the users are still dirty; queue them again.
                    foreach (var run in _runs) _shards[run.Shard].Requeue(_batch.Users.Slice(run.Start, run.Count));
                    throw;
                }
                MarkPersisted(unwritten);
                _metrics?.RecordBatch(_batch.UserCount, _batch.StateCount);
                users += _batch.UserCount - (unwritten?.Count ?? 0);
                isolatedLeft |= unwritten is { Count: > 0 };
            }
            // Isolated users' changes are older than this pass: it did not write "everything it found".
            if (!isolatedLeft && _isolated.Count == 0) Interlocked.Exchange(ref _lastCompletedPass, passStart);
            if (segment > 0) await TruncateLogAsync(segment, ct).ConfigureAwait(false);
            return users;
        }
        finally
        {
            _flushGate.Release();
        }
    }

    /// <summary>Each shard's users are contiguous in the batch: one lock acquisition per shard, no re-hashing. Unwritten users stay dirty.</summary>
    private void MarkPersisted(HashSet<ulong>? unwritten)
    {
        foreach (var run in _runs)
        {
            var users = _batch.Users.Slice(run.Start, run.Count);
            if (unwritten is null)
            {
                _shards[run.Shard].MarkPersisted(users);
                continue;
            }
            var written = new List<UserEntry>(users.Length);
            foreach (ref readonly var u in users)
                if (!unwritten.Contains(u.UserId)) written.Add(u);
            _shards[run.Shard].MarkPersisted(CollectionsMarshal.AsSpan(written));
        }
    }

    /// <summary>Writes a batch, retrying while the store fails. Returns the users it isolated instead of writing (null: all written).</summary>
    private async Task<HashSet<ulong>?> WriteWithRetryAsync(StateBatch batch, CancellationToken ct, FailureBudget? budget)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await WriteOnceAsync(batch, ct, budget).ConfigureAwait(false);
                if (attempt > 1) EngineLog.WriteRecovered(_shared.Logger, attempt);
                return null;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                Failed(budget);
                await CompactLogIfLargeAsync(ct).ConfigureAwait(false);
                if (ShouldIsolate(attempt, batch.UserCount))
                {
                    var isolated = await IsolateAsync(batch, ex, ct, budget).ConfigureAwait(false);
                    if (isolated is not null) return isolated;
                }
                var delay = RetryDelay(attempt);
                EngineLog.WriteFailed(_shared.Logger, batch.UserCount, attempt, (long)delay.TotalMilliseconds, ex);
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task WriteOnceAsync(StateBatch batch, CancellationToken ct, FailureBudget? budget)
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
        _shared.StoreHealthy = true;
        Interlocked.Add(ref _flushedUsers, batch.UserCount);
        budget?.Succeeded();
    }

    private void Failed(FailureBudget? budget)
    {
        Interlocked.Increment(ref _writeFailures);
        _shared.StoreHealthy = false;
        budget?.Failed();
    }

    private TimeSpan RetryDelay(int attempt)
    {
        double ms = Math.Min(Options.MaxRetryDelay.TotalMilliseconds, 25 * Math.Pow(2, Math.Min(attempt, 20)));
        return TimeSpan.FromMilliseconds(ms * (0.5 + Random.Shared.NextDouble() / 2));
    }

    // ---- the log's side of a pass -----------------------------------------------------------------

    /// <summary>Durable mode: a new segment for this pass; 0 when there is no log, or it is failing (then nothing is truncated).</summary>
    private async Task<long> RollLogAsync(CancellationToken ct)
    {
        if (_changeLog is null || _loop is null || !_changeLog.Healthy) return 0;
        try
        {
            return await _changeLog.RollAsync(ct).ConfigureAwait(false);
        }
        catch (BackpressureException)
        {
            return 0; // the log failed: flushing goes on, truncation waits for its recovery
        }
    }

    /// <summary>
    /// After a pass that wrote every user dirty at its start: segments older than the pass's cover only
    /// changes the store now has, except those of isolated users, which are first written to the log again.
    /// </summary>
    private async Task TruncateLogAsync(long segment, CancellationToken ct)
    {
        if (_isolated.Count > 0)
        {
            var only = new HashSet<ulong>(_isolated.Keys);
            long ticket = 0;
            foreach (var shard in _shards)
            {
                shard.RelogDirty(null, only);
                ticket = Math.Max(ticket, Durability.ChangeLog.TakeTicket());
            }
            try
            {
                await _changeLog!.WaitAsync(ticket).WaitAsync(ct).ConfigureAwait(false);
            }
            catch (BackpressureException)
            {
                return;
            }
        }
        _changeLog!.DeleteBefore(segment);
    }

    /// <summary>
    /// Durable mode, store failing: segments pile up with every change. Past <see cref="EngineOptions.LogCompactBytes"/>,
    /// roll, write every unwritten change (the batch under retry included: it is still dirty) into the new
    /// segment, and once that is synced delete the older ones. Runs under the flush gate, like truncation.
    /// </summary>
    private async Task CompactLogIfLargeAsync(CancellationToken ct)
    {
        if (_changeLog is null || _loop is null || !_changeLog.Healthy || _changeLog.LiveBytes < Options.LogCompactBytes) return;
        try
        {
            long segment = await _changeLog.RollAsync(ct).ConfigureAwait(false);
            long ticket = 0;
            int users = 0;
            foreach (var shard in _shards)
            {
                users += shard.RelogDirty(null).Users;
                ticket = Math.Max(ticket, Durability.ChangeLog.TakeTicket());
            }
            await _changeLog.WaitAsync(ticket).WaitAsync(ct).ConfigureAwait(false);
            long before = _changeLog.LiveBytes;
            _changeLog.DeleteBefore(segment);
            EngineLog.LogCompacted(_shared.Logger, users, before, _changeLog.LiveBytes);
        }
        catch (BackpressureException)
        {
            // The log failed meanwhile: it recovers on its own, with a rewrite of its own.
        }
    }

    /// <summary>How long the store write in flight has been running; zero when none is.</summary>
    private TimeSpan WriteInFlightFor
    {
        get
        {
            long started = Volatile.Read(ref _writeStartedAt);
            return started == 0 ? TimeSpan.Zero : _time.GetElapsedTime(started);
        }
    }

    /// <summary>A shard's users in the flush batch: <see cref="Count"/> users from <see cref="Start"/>.</summary>
    private readonly record struct ShardRun(int Shard, int Start, int Count);

    // ---- shutdown -----------------------------------------------------------------------------------

    /// <summary>
    /// Stops write-behind and flushes everything still dirty. The flush runs to the end while the store
    /// accepts writes; it gives up only once no write has succeeded for <see cref="EngineOptions.ShutdownFlushTimeout"/>.
    /// What is left then stays in (durable) or goes to (deferred) the change log, or is reported lost.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        string? why = null;
        using (var budget = new FailureBudget(Options.ShutdownFlushTimeout, _time))
        {
            try
            {
                long users = 0;
                while (true)
                {
                    users += await FlushOnceAsync(budget.Token, budget).ConfigureAwait(false);
                    if (_isolated.Count == 0 || CountDirty().Users == 0) break;
                    await Task.Delay(RetryDelay(2), _time, budget.Token).ConfigureAwait(false);
                }
                EngineLog.FinalFlush(_shared.Logger, users, watch.ElapsedMilliseconds);
            }
            catch (Exception ex)
            {
                why = budget.Token.IsCancellationRequested
                    ? $"no store write succeeded for {Options.ShutdownFlushTimeout}"
                    : $"the final flush failed: {ex.Message}";
            }
        }
        _changeLog?.Stop();
        var (dirtyUsers, dirtyStates) = CountDirty();
        if (why is not null) EngineLog.FinalFlushGaveUp(_shared.Logger, Options.ShutdownFlushTimeout, dirtyUsers, dirtyStates);
        if (dirtyUsers > 0) KeepOrReportUnwritten(dirtyUsers, dirtyStates, why ?? "changed during the final flush");
        else _changeLog?.DeleteBefore(long.MaxValue); // the store has everything: nothing to replay
        _changeLog?.Dispose();
        _logDevice?.Dispose();
        _stop.Dispose();
    }
}
