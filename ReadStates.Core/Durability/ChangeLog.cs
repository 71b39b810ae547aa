using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace ReadStates.Core.Durability;

/// <summary>One shard's part of the log: the buffer its calls append to, under the shard lock and then <see cref="Gate"/>.</summary>
internal sealed class ShardLog(ChangeLog owner)
{
    /// <summary>Orders appends (which hold the shard lock) against the writer swapping the buffer out.</summary>
    public readonly Lock Gate = new();
    public LogBuffer Current = new();
    /// <summary>The writer's: the group being written.</summary>
    public LogBuffer Sealed = new();
    /// <summary>The group of the last record appended here. Written under both locks, read under the shard lock.</summary>
    public long LastEpoch;
    public ChangeLog Owner { get; } = owner;
}

/// <summary>
/// Group commit for <c>Engine:Durability = durable</c>. Calls append their changed states to their shard's
/// buffer (no shared lock on the hot path) and wait for a ticket: the group ("epoch") their record went
/// into. One writer thread seals the open group (bumps the epoch, swaps every shard's buffer), appends
/// the bytes to the current segment, fsyncs once, and completes every waiter of that group. While it
/// syncs, the next group fills: under load each fsync carries every call that arrived during the
/// previous one; <c>Engine:GroupCommitWindow</c> can hold a group open longer. The flush loop rolls to
/// a new segment at the start of each pass and deletes older segments once the store holds what they
/// cover. A failed write or fsync fails that group's calls and turns the log "failed" (writes refused)
/// until a fresh segment plus a rewrite of every unwritten change succeeds.
/// </summary>
internal sealed class ChangeLog : IDisposable
{
    [ThreadStatic]
    private static long t_ticket;

    private static readonly TimeSpan RecoveryInterval = TimeSpan.FromSeconds(1);

    private readonly ILogDevice _device;
    private readonly ShardLog[] _shards;
    private readonly TimeSpan _window;
    private readonly ILogger _logger;
    private readonly byte[] _header = new byte[LogFormat.SegmentHeader];

    private readonly Lock _gate = new();
    private readonly List<(long Ticket, ICommitWaiter Waiter)> _waiters = new(256);
    private readonly List<(long Ticket, ICommitWaiter Waiter)> _completing = new(256);
    private readonly List<TaskCompletionSource<long>> _rolls = [];
    private readonly SortedDictionary<long, long> _segmentBytes = [];
    private readonly SemaphoreSlim _wake = new(0);
    private bool _sleeping;
    private bool _stopping;
    private Thread? _thread;

    private long _openEpoch = 1;
    private long _committedEpoch;
    private long _segment;
    private volatile Exception? _failure;

    private long _groups, _bytes, _syncs, _syncTicks, _calls;

    public ChangeLog(ILogDevice device, int shards, TimeSpan window, ILogger logger)
    {
        _device = device;
        _window = window;
        _logger = logger;
        _shards = new ShardLog[shards];
        for (int i = 0; i < shards; i++) _shards[i] = new ShardLog(this);
    }

    public ShardLog ShardLog(int shard) => _shards[shard];

    /// <summary>Set by the engine: appends every unwritten change to the shard buffers (recovery after a failed fsync).</summary>
    public Action? RelogAll { get; set; }

    public bool Healthy => _failure is null;

    /// <summary>Told when the log fails (false) and when it has recovered (true).</summary>
    public Action<bool>? HealthChanged { get; set; }

    public string Location => _device.Location;

    /// <summary>The group appends go into now.</summary>
    public long OpenEpoch => Volatile.Read(ref _openEpoch);

    /// <summary>Set by a shard (under its lock) after a call: the group that makes the call durable.</summary>
    internal static void SetTicket(long epoch) => t_ticket = epoch;

    /// <summary>The ticket of the last call this thread made (0 when it had none), and clears it.</summary>
    public static long TakeTicket()
    {
        long t = t_ticket;
        t_ticket = 0;
        return t;
    }

    /// <summary>Starts the writer on a new segment, numbered above every segment that existed before.</summary>
    public void Open(long firstSegment)
    {
        if (_thread is not null) throw new InvalidOperationException("The change log is already open.");
        _segment = firstSegment;
        BeginSegment();
        _thread = new Thread(Run) { IsBackground = true, Name = "readstates-changelog" };
        _thread.Start();
    }

    // ---- waiting -------------------------------------------------------------------------------

    public ValueTask<T> WhenDurable<T>(long ticket, T result)
    {
        if (ticket <= Volatile.Read(ref _committedEpoch)) return new(result);
        var waiter = CommitWaiter<T>.Rent(result);
        short token = waiter.Token;
        Register(ticket, waiter);
        return new ValueTask<T>(waiter, token);
    }

    public ValueTask WhenDurable(long ticket)
    {
        if (ticket <= Volatile.Read(ref _committedEpoch)) return default;
        var waiter = CommitWaiter<bool>.Rent(true);
        short token = waiter.Token;
        Register(ticket, waiter);
        return new ValueTask(waiter, token);
    }

    public Task WaitAsync(long ticket)
    {
        if (ticket <= Volatile.Read(ref _committedEpoch)) return Task.CompletedTask;
        var waiter = new TaskCommitWaiter();
        Register(ticket, waiter);
        return waiter.Task;
    }

    private void Register(long ticket, ICommitWaiter waiter)
    {
        bool now = false, wake = false;
        lock (_gate)
        {
            if (ticket <= _committedEpoch) now = true;
            else
            {
                _waiters.Add((ticket, waiter));
                wake = TakeSleeper();
            }
        }
        if (wake) _wake.Release();
        if (now) waiter.Complete(null);
    }

    private bool TakeSleeper()
    {
        if (!_sleeping) return false;
        _sleeping = false;
        return true;
    }

    // ---- segments ------------------------------------------------------------------------------

    /// <summary>
    /// Seals everything appended so far into the current segment and moves on to a new one (unless the
    /// current one holds nothing yet). Returns the segment now appended to: every older one covers only
    /// changes made before this call.
    /// </summary>
    public Task<long> RollAsync(CancellationToken ct)
    {
        var request = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool wake;
        lock (_gate)
        {
            _rolls.Add(request);
            wake = TakeSleeper();
        }
        if (wake) _wake.Release();
        return request.Task.WaitAsync(ct);
    }

    /// <summary>Deletes the segments below <paramref name="segment"/>: the store holds every change they cover.</summary>
    public void DeleteBefore(long segment)
    {
        List<long>? doomed = null;
        lock (_gate)
        {
            foreach (var (id, _) in _segmentBytes)
            {
                if (id >= segment) break;
                (doomed ??= []).Add(id);
            }
            if (doomed is not null) foreach (long id in doomed) _segmentBytes.Remove(id);
        }
        if (doomed is null) return;
        foreach (long id in doomed)
        {
            try { _device.Delete(id); }
            catch (Exception ex) { EngineLog.LogDeleteFailed(_logger, id, _device.Location, ex); }
        }
    }

    /// <summary>Segments this log wrote that are still on the device (the current one included).</summary>
    public IReadOnlyList<long> LiveSegments()
    {
        lock (_gate) return [.. _segmentBytes.Keys];
    }

    public long LiveBytes
    {
        get
        {
            lock (_gate)
            {
                long total = 0;
                foreach (var (_, bytes) in _segmentBytes) total += bytes;
                return total;
            }
        }
    }

    private void BeginSegment()
    {
        _device.StartSegment(_segment);
        LogFormat.WriteSegmentHeader(_header, _segment);
        _device.Append(_header);
        _device.Sync();
        lock (_gate) _segmentBytes[_segment] = 0;
    }

    // ---- the writer ----------------------------------------------------------------------------

    private void Run()
    {
        while (true)
        {
            bool sleep = false, stop = false;
            lock (_gate)
            {
                if (_waiters.Count == 0 && _rolls.Count == 0)
                {
                    if (_stopping) stop = true;
                    else
                    {
                        _sleeping = true;
                        sleep = true;
                    }
                }
            }
            if (stop)
            {
                CommitGroup(); // anything appended without a waiter
                return;
            }
            if (sleep)
            {
                if (_failure is null) _wake.Wait();
                else if (!_wake.Wait(RecoveryInterval)) TryRecover();
                continue;
            }
            if (_window > TimeSpan.Zero) Linger();
            CommitGroup();
        }
    }

    /// <summary>Holds the group open for the configured window, so more callers share its fsync.</summary>
    private void Linger()
    {
        long until = Stopwatch.GetTimestamp() + (long)(_window.TotalSeconds * Stopwatch.Frequency);
        if (_window >= TimeSpan.FromMilliseconds(2)) Thread.Sleep(_window - TimeSpan.FromMilliseconds(1));
        var spin = new SpinWait();
        while (Stopwatch.GetTimestamp() < until) spin.SpinOnce(sleep1Threshold: -1);
    }

    private void CommitGroup()
    {
        TaskCompletionSource<long>[]? rolls = null;
        lock (_gate)
        {
            if (_rolls.Count > 0)
            {
                rolls = [.. _rolls];
                _rolls.Clear();
            }
        }
        long sealing = _openEpoch;
        Volatile.Write(ref _openEpoch, sealing + 1);
        foreach (var s in _shards)
            lock (s.Gate) (s.Current, s.Sealed) = (s.Sealed, s.Current);

        Exception? error = _failure;
        long bytes = 0;
        if (error is null)
        {
            try
            {
                foreach (var s in _shards)
                {
                    if (s.Sealed.Length == 0) continue;
                    _device.Append(s.Sealed.Written);
                    bytes += s.Sealed.Length;
                }
                if (bytes > 0)
                {
                    long start = Stopwatch.GetTimestamp();
                    _device.Sync();
                    _syncTicks += Stopwatch.GetTimestamp() - start;
                    _syncs++;
                    lock (_gate) _segmentBytes[_segment] += bytes;
                }
                if (rolls is not null && CurrentSegmentHasRecords())
                {
                    _segment++;
                    BeginSegment();
                }
            }
            catch (Exception ex)
            {
                error = ex;
                _failure = ex;
                HealthChanged?.Invoke(false);
                EngineLog.LogFailed(_logger, _device.Location, ex);
            }
        }
        foreach (var s in _shards) s.Sealed.Clear();
        _groups++;
        _bytes += bytes;

        lock (_gate)
        {
            if (error is null) Volatile.Write(ref _committedEpoch, sealing);
            int kept = 0;
            for (int i = 0; i < _waiters.Count; i++)
            {
                var w = _waiters[i];
                if (w.Ticket <= sealing) _completing.Add(w);
                else _waiters[kept++] = w;
            }
            _waiters.RemoveRange(kept, _waiters.Count - kept);
        }
        var refusal = error is null ? null : Refusal(error);
        _calls += _completing.Count;
        foreach (var (_, waiter) in _completing) waiter.Complete(refusal);
        _completing.Clear();
        if (rolls is null) return;
        foreach (var roll in rolls)
        {
            if (refusal is null) roll.TrySetResult(_segment);
            else roll.TrySetException(refusal);
        }
    }

    private bool CurrentSegmentHasRecords()
    {
        lock (_gate) return _segmentBytes.TryGetValue(_segment, out long b) && b > 0;
    }

    private BackpressureException Refusal(Exception error) =>
        new(true, $"The change log at {_device.Location} failed ({error.Message}); the change was not acknowledged.");

    /// <summary>After a failure: a fresh segment, then every unwritten change again; healthy once that group is on disk.</summary>
    private void TryRecover()
    {
        try
        {
            _segment++;
            BeginSegment();
        }
        catch (Exception ex)
        {
            EngineLog.LogStillFailing(_logger, _device.Location, ex.Message);
            return;
        }
        _failure = null;
        RelogAll?.Invoke();
        CommitGroup();
        if (_failure is not null) return;
        HealthChanged?.Invoke(true);
        EngineLog.LogRecovered(_logger, _device.Location, _segment);
    }

    /// <summary>Writes what is left, stops the writer and fails whatever still waits.</summary>
    public void Stop()
    {
        if (_thread is null) return;
        bool wake;
        lock (_gate)
        {
            _stopping = true;
            wake = TakeSleeper();
        }
        if (wake) _wake.Release();
        _thread.Join();
        _thread = null;
        var stats = GetStats();
        EngineLog.LogStopped(_logger, stats.Groups, stats.Calls, stats.Syncs, stats.Syncs == 0 ? 0 : stats.SyncSeconds * 1e6 / stats.Syncs, stats.Bytes);
    }

    public ChangeLogStats GetStats() => new(Volatile.Read(ref _groups), Volatile.Read(ref _calls), Volatile.Read(ref _bytes),
        Volatile.Read(ref _syncs), (double)Volatile.Read(ref _syncTicks) / Stopwatch.Frequency, LiveBytes, _failure is null);

    public void Dispose()
    {
        Stop();
        _wake.Dispose();
    }
}

/// <summary>Counters of the group commit, since start.</summary>
public readonly record struct ChangeLogStats(long Groups, long Calls, long Bytes, long Syncs, double SyncSeconds, long LiveBytes, bool Healthy);
