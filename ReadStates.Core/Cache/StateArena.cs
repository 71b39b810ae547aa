using System.Diagnostics;
using ReadStates.Core.Memory;
using ReadStates.Core.Storage;

namespace ReadStates.Core.Cache;

/// <summary>
/// Where a shard's read states live: one pooled block of <see cref="CachedState"/> cells per user,
/// sorted by channel id (tombstones included, until compacted and purged from the store), and the mention ids of those
/// cells in the <see cref="MentionArena"/>. Nothing here knows about users' LRU order or versions.
/// WARNING: runs under the shard lock (not thread-safe): copy and compute only, never block or call out.
/// </summary>
internal sealed class StateArena
{
    // A block holds at most what a user slot can count (16-bit counts): one cell short of a chunk.
    private readonly SlabPool<CachedState> _cells = new(1, ushort.MaxValue);

    public StateArena(int mentionIdCap) => Mentions = new MentionArena(mentionIdCap);

    public MentionArena Mentions { get; }

    /// <summary>Most entries (live and tombstones) one user's block can hold.</summary>
    public int MaxBlock => _cells.MaxBlock;

    public long ReservedCells => _cells.ReservedElements;
    public long RentedCells => _cells.RentedElements;

    public Span<CachedState> Of(in UserSlot u) => u.Count == 0 ? default : _cells.Block(u.StatesStart, u.Count);

    public ref CachedState At(in UserSlot u, int index)
    {
        Debug.Assert((uint)index < (uint)u.Count, "state index outside the user's block");
        return ref _cells.At(u.StatesStart + index);
    }

    /// <summary>Binary search by channel: the index, or the complement of where it would go.</summary>
    public int Find(in UserSlot u, ulong channelId) => Find(Of(u), channelId);

    /// <summary>Binary search by channel in a block from <see cref="Of"/>.</summary>
    public static int Find(ReadOnlySpan<CachedState> cells, ulong channelId)
    {
        int lo = 0, hi = cells.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ulong c = cells[mid].State.ChannelId;
            if (c == channelId) return mid;
            if (c < channelId) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    public bool IsLive(in UserSlot u, int index) => index >= 0 && !_cells.At(u.StatesStart + index).State.IsDeleted;

    /// <summary>
    /// Opens a cell at <paramref name="index"/> (the complement of a failed <see cref="Find"/>), moving the
    /// block to a larger class when full. The new cell is uninitialised: the caller writes it.
    /// </summary>
    public void InsertAt(ref UserSlot u, int index)
    {
        if (u.Count + 1 > MaxBlock)
            throw new BackpressureException(false, $"User {u.UserId} has too many deletions waiting for the store; retry shortly.");
        if (u.StatesStart < 0 || u.Count + 1 > _cells.ClassSize(u.StatesClass))
        {
            int cls = _cells.ClassFor(u.Count + 1);
            int start = _cells.Rent(cls);
            if (u.Count > 0)
            {
                _cells.Block(u.StatesStart, u.Count).CopyTo(_cells.Block(start, u.Count));
                _cells.Return(u.StatesStart, u.StatesClass);
            }
            u.StatesStart = start;
            u.StatesClass = (byte)cls;
        }
        var block = _cells.Block(u.StatesStart, u.Count + 1);
        block[index..u.Count].CopyTo(block[(index + 1)..]);
        u.Count++;
    }

    /// <summary>
    /// Fills a new user's block from one user of a batch (a store load, or an evicted user's copy). The caller
    /// has set <see cref="UserSlot.SyncFloor"/>: tombstones at or below it count as purging, and those at or
    /// below <paramref name="purgedFloor"/> (the store has purged them already) are not restored at all.
    /// </summary>
    public void Restore(ref UserSlot u, StateBatch batch, in UserEntry entry, ulong purgedFloor)
    {
        Debug.Assert(u.Count == 0 && u.StatesStart < 0, "restoring over a live block");
        var stored = batch.StatesOf(entry);
        int keep = 0;
        foreach (ref readonly var s in stored)
            if (!s.IsDeleted || s.State.Version > purgedFloor) keep++;
        if (keep == 0) return;
        u.StatesClass = (byte)_cells.ClassFor(keep);
        u.StatesStart = _cells.Rent(u.StatesClass);
        u.Count = (ushort)keep;
        var dst = _cells.Block(u.StatesStart, keep);
        bool sorted = true;
        int i = 0;
        foreach (ref readonly var s in stored)
        {
            if (s.IsDeleted && s.State.Version <= purgedFloor) continue;
            dst[i].Set(s.State);
            Mentions.Restore(ref dst[i], batch.MentionsOf(s), s.OverflowCount, s.OverflowMaxId);
            if (s.IsDeleted)
            {
                u.Tombstones++;
                if (s.State.Version <= u.SyncFloor) u.Purging++;
            }
            if (i > 0 && dst[i - 1].State.ChannelId >= dst[i].State.ChannelId) sorted = false;
            i++;
        }
        if (!sorted) dst.Sort(static (a, b) => a.State.ChannelId.CompareTo(b.State.ChannelId));
    }

    /// <summary>
    /// Appends the user's states to the batch: for write-behind, those changed after <paramref name="changedAfter"/>
    /// plus the compacted tombstones the store must purge; all of them when it is null (an eviction copy).
    /// </summary>
    public void CopyTo(StateBatch batch, in UserSlot u, ulong? changedAfter)
    {
        foreach (ref readonly var c in Of(u))
        {
            if (changedAfter is { } v && c.State.Version <= v && !(c.State.IsDeleted && c.State.Version <= u.SyncFloor)) continue;
            var (overflow, maxId) = Mentions.OverflowOf(c);
            batch.AddState(c.State, overflow, maxId, Mentions.HeldIds(c));
        }
    }

    /// <summary>Returns the user's block and mention blocks to the pools.</summary>
    public void Release(ref UserSlot u)
    {
        foreach (ref var c in Of(u)) Mentions.Free(ref c);
        if (u.StatesStart >= 0) _cells.Return(u.StatesStart, u.StatesClass);
        u.StatesStart = -1;
        u.Count = 0;
        u.Tombstones = 0;
        u.Purging = 0;
    }

    /// <summary>Drops the compacted tombstones the store has purged (at or below <paramref name="purgedFloor"/>).</summary>
    public void DropPurged(ref UserSlot u, ulong purgedFloor)
    {
        var cells = Of(u);
        int kept = 0;
        for (int i = 0; i < cells.Length; i++)
        {
            if (cells[i].State.IsDeleted && cells[i].State.Version <= purgedFloor) continue;
            cells[kept++] = cells[i];
        }
        int dropped = cells.Length - kept;
        Debug.Assert(u.Tombstones >= dropped && u.Purging >= dropped, "more tombstones dropped than counted");
        u.Tombstones -= (ushort)dropped;
        u.Purging -= (ushort)dropped;
        u.Count = (ushort)kept;
        if (kept == 0 && u.StatesStart >= 0)
        {
            _cells.Return(u.StatesStart, u.StatesClass);
            u.StatesStart = -1;
        }
    }
}
