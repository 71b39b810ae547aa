using System.Diagnostics;

namespace ReadStates.Storage.RocksDb;

/// <summary>
/// One open RocksDB instance, shared by concurrent loads and writes and closed by recovery.
/// <para>
/// Contract: an operation calls <see cref="TryEnter"/> before touching <see cref="Db"/> (or any iterator
/// of it) and <see cref="Exit"/> when done; <see cref="CloseAndWait"/> first refuses new entries, then waits
/// until every operation inside has left, and only then frees the native database. So no thread can ever
/// call into a closed database (which would crash the process, not throw). Entering and leaving are one
/// interlocked operation each; the wait happens only on the rare recovery path.
/// </para>
/// A thread must not call <see cref="CloseAndWait"/> while it is itself inside: it would wait forever.
/// </summary>
internal sealed class RocksDbHandle
{
    private const int ClosingBit = int.MinValue;

    // Operations inside, with ClosingBit set once closing has begun.
    private int _state;
    private readonly ManualResetEventSlim _drained = new(false);

    public RocksDbHandle(RocksDbSharp.RocksDb db, long generation)
    {
        Db = db;
        Generation = generation;
    }

    public RocksDbSharp.RocksDb Db { get; }

    /// <summary>1 for the database opened at start, +1 for each reopen.</summary>
    public long Generation { get; }

    /// <summary>
    /// Test seam: a write error this instance reports from now on, as RocksDB does for every write after a
    /// hard background error (disk full, I/O error) until the database is reopened.
    /// </summary>
    public volatile string? InjectedWriteError;

    public bool IsClosing => Volatile.Read(ref _state) < 0;

    /// <summary>Enters unless closing has begun.</summary>
    public bool TryEnter()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state < 0) return false;
            if (Interlocked.CompareExchange(ref _state, state + 1, state) == state) return true;
        }
    }

    public void Exit()
    {
        int state = Interlocked.Decrement(ref _state);
        Debug.Assert((state & ~ClosingBit) >= 0, "Exit without a matching TryEnter.");
        if (state == ClosingBit) _drained.Set(); // the last one out of a closing handle
    }

    /// <summary>Refuses new entries, waits for the operations inside to leave, then closes the database.</summary>
    public void CloseAndWait()
    {
        int before = Interlocked.Or(ref _state, ClosingBit);
        Debug.Assert(before >= 0, "A handle is closed once.");
        if (before == 0) _drained.Set();
        _drained.Wait();
        Db.Dispose();
        _drained.Dispose();
    }
}
