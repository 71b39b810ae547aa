using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RocksDbSharp;

namespace ReadStates.Storage.RocksDb;

/// <summary>
/// The store's database across failures: the current <see cref="RocksDbHandle"/> and the recovery that
/// replaces it.
/// <para>
/// Why: after a hard background error (disk full, an I/O error writing the WAL or a table file) RocksDB
/// refuses every later write with the same error, even once the cause is gone; it resumes by itself only
/// for the few errors it classes as retryable. <c>DB::Resume</c> would clear it, but the C API has no
/// <c>rocksdb_resume</c> and the native library shipped in the RocksDB package exports only the C++ symbol,
/// so recovery closes the database and opens it again. Opening replays the WAL, so nothing RocksDB
/// acknowledged is lost; a write it refused was never acknowledged, and the engine retries it.
/// </para>
/// <para>
/// When: a write that fails with an I/O error calls <see cref="TryRecover"/>. For "no space" errors the
/// database is only closed once the file system has room for what reopening writes (the WAL is flushed to
/// a table file); until then the old instance stays open and keeps serving loads. Opening is attempted at
/// most once per <see cref="ReopenInterval"/>; while it fails the database is closed: loads and writes fail
/// at once with <see cref="RocksDbUnavailableException"/> (the engine answers UNAVAILABLE and retries its
/// writes), and the next operation after the interval tries to open it again.
/// </para>
/// <para>
/// Thread safety: any number of loads and writes run concurrently with each other and with recovery.
/// <see cref="Enter"/> returns the current handle entered (one interlocked operation); the caller leaves it
/// with <see cref="RocksDbHandle.Exit"/> before calling <see cref="TryRecover"/>. Recovery, opening and
/// disposal hold one lock; closing a handle waits for the operations inside it, so the native database is
/// never used after it is freed. An operation that arrives while a handle is being replaced waits on the
/// lock and then uses the new one.
/// </para>
/// </summary>
internal sealed class RecoveringDatabase : IDisposable
{
    /// <summary>Room beyond the WAL that reopening needs: a new MANIFEST, OPTIONS, WAL and info log.</summary>
    internal const long ReopenHeadroomBytes = 1 << 20;

    private readonly object _lock = new();
    private readonly Func<RocksDbSharp.RocksDb> _open;
    private readonly string _path;
    private readonly ILogger _logger;
    private RocksDbHandle? _current; // null while closed (a reopen failed) and after disposal
    private Exception? _fault; // why the current handle refuses writes, or why none is open
    private long _nextOpenTicks;
    private long _generation;
    private bool _waitingForSpaceLogged;
    private bool _disposed;

    public RecoveringDatabase(string path, Func<RocksDbSharp.RocksDb> open, ILogger logger)
    {
        _path = path;
        _open = open;
        _logger = logger;
        _current = new RocksDbHandle(open(), ++_generation);
    }

    /// <summary>Shortest time between two attempts to open the database after a failed one.</summary>
    public TimeSpan ReopenInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Free bytes on the file system of a path (a seam, so tests can play a full disk without root).</summary>
    public Func<string, long> FreeSpace { get; set; } = static path => new DriveInfo(path).AvailableFreeSpace;

    /// <summary>The handle in use, or null while closed (for tests and diagnostics).</summary>
    internal RocksDbHandle? Current => Volatile.Read(ref _current);

    /// <summary>The current handle, entered; opens the database first if it is closed and may be retried now.</summary>
    /// <exception cref="RocksDbUnavailableException">The database is closed after a failure and cannot be opened yet.</exception>
    public RocksDbHandle Enter()
    {
        var handle = Volatile.Read(ref _current);
        if (handle is not null && handle.TryEnter()) return handle;
        return EnterSlow();
    }

    private RocksDbHandle EnterSlow()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, typeof(RocksDbStore));
            if (_current is null) TryOpenLocked();
            // Under the lock nobody is closing _current, so entering cannot fail.
            if (_current is { } handle && handle.TryEnter()) return handle;
            throw Unavailable();
        }
    }

    /// <summary>
    /// Called after a write on <paramref name="failed"/> failed with <paramref name="error"/> (an I/O error):
    /// replaces the database when the cause may have cleared. Returns true when a handle other than
    /// <paramref name="failed"/> is in place (the write may be retried on it at once).
    /// </summary>
    public bool TryRecover(RocksDbHandle failed, Exception error)
    {
        lock (_lock)
        {
            if (_disposed) return false;
            if (_current is not null && _current != failed) return true; // another caller already reopened it
            if (_current == failed)
            {
                if (_fault is null) RocksDbStoreLog.Stopped(_logger, _path, failed.Generation, error.Message);
                _fault = error;
            }
            if (!MayOpenNow()) return false;
            if (_current is { } stopped)
            {
                _current = null;
                var watch = Stopwatch.StartNew();
                stopped.CloseAndWait();
                RocksDbStoreLog.ClosedForReopen(_logger, _path, stopped.Generation, watch.ElapsedMilliseconds);
            }
            return TryOpenLocked();
        }
    }

    /// <summary>The exception for a write refused while the database cannot be reopened yet.</summary>
    public RocksDbUnavailableException Refused(Exception error)
    {
        string cause = RocksDbErrors.IsNoSpace(error)
            ? $"it is reopened once {RequiredFreeBytes() >> 10} KiB are free on its file system"
            : "it is reopened once it opens again";
        return new RocksDbUnavailableException($"RocksDB at {_path} refuses writes ({error.Message}); {cause}.", error);
    }

    private RocksDbUnavailableException Unavailable() =>
        new($"RocksDB at {_path} is closed after a failure and not reopened yet: {_fault?.Message ?? "unknown error"}", _fault);

    private bool MayOpenNow()
    {
        if (Environment.TickCount64 < _nextOpenTicks) return false;
        if (_fault is null || !RocksDbErrors.IsNoSpace(_fault)) return true;
        long need = RequiredFreeBytes();
        long free;
        try
        {
            free = FreeSpace(_path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return true; // cannot tell: let the attempt decide
        }
        if (free >= need) return true;
        if (!_waitingForSpaceLogged)
        {
            _waitingForSpaceLogged = true;
            RocksDbStoreLog.WaitingForSpace(_logger, _path, free >> 10, need >> 10);
        }
        return false;
    }

    private bool TryOpenLocked()
    {
        if (!MayOpenNow()) return false;
        var watch = Stopwatch.StartNew();
        try
        {
            _current = new RocksDbHandle(_open(), ++_generation);
        }
        catch (RocksDbSharpException ex)
        {
            _fault = ex;
            _nextOpenTicks = Environment.TickCount64 + (long)ReopenInterval.TotalMilliseconds;
            RocksDbStoreLog.ReopenFailed(_logger, _path, ex.Message, (long)ReopenInterval.TotalMilliseconds);
            return false;
        }
        _fault = null;
        _waitingForSpaceLogged = false;
        _nextOpenTicks = 0;
        RocksDbStoreLog.Reopened(_logger, _path, _generation, watch.ElapsedMilliseconds);
        return true;
    }

    /// <summary>What reopening writes: the WAL becomes a table file (at most its size), plus headroom.</summary>
    private long RequiredFreeBytes()
    {
        long wal = 0;
        try
        {
            foreach (var file in new DirectoryInfo(_path).EnumerateFiles("*.log")) wal += file.Length;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return wal + ReopenHeadroomBytes;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            var handle = _current;
            _current = null;
            handle?.CloseAndWait();
        }
    }
}

/// <summary>The store is closed after a failure (or refuses writes) until RocksDB can be reopened.</summary>
public sealed class RocksDbUnavailableException(string message, Exception? inner) : IOException(message, inner);

/// <summary>How the store reads RocksDB's errors (RocksDbSharp reports them as messages only).</summary>
internal static class RocksDbErrors
{
    /// <summary>An I/O error (Status::IOError, including no space): the kind after which RocksDB stops writing.</summary>
    public static bool IsIoError(Exception ex) =>
        ex is RocksDbSharpException && ex.Message.StartsWith("IO error", StringComparison.Ordinal);

    public static bool IsNoSpace(Exception ex) =>
        ex.Message.Contains("No space left on device", StringComparison.Ordinal)
        || ex.Message.Contains("IO error: No space", StringComparison.Ordinal);
}
