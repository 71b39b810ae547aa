using System.Diagnostics;

namespace ReadStates.Core.Cache;

/// <summary>
/// The eviction policy of one shard: a segmented LRU (SLRU) over slot indexes, kept in parallel int
/// arrays so the garbage collector sees three arrays, not one object per user.
/// <list type="bullet">
/// <item>A user made resident enters the head of <b>probation</b>. The access that made it resident
/// (a load or a reinstated eviction) counts as its first; the next access promotes it.</item>
/// <item>A user accessed again while in probation moves to the head of <b>protected</b>. Protected holds at
/// most <see cref="ProtectedShare"/> of the resident users; past that, its least recent user drops back
/// to the head of probation, where one more access saves it.</item>
/// <item>Victims come from the tail of probation, and from protected only when probation is empty.</item>
/// </list>
/// So users seen once (a one-pass scan: a backfill, a bot walking every account) churn probation and
/// never push out the users that come back. Promotion rule inside protected: a touch relinks a user to
/// the head only if more than an eighth of protected's population of accesses happened since its last
/// promotion; otherwise at most that many users were promoted past it, so it is still near the head
/// and the hot path pays one compare instead of relinking. The same compromise as a CLOCK bit, with
/// LRU order preserved at that granularity.
/// WARNING: runs under the shard lock; not thread-safe.
/// </summary>
internal sealed class SegmentedLru
{
    /// <summary>Protected's share of the resident users: 80 %, as in the SLRU and W-TinyLFU papers.</summary>
    public const double ProtectedShare = 0.8;

    private const byte None = 0, Fresh = 1, Probation = 2, Protected = 3;

    private int[] _prev;
    private int[] _next;
    private uint[] _promotedAt;
    private byte[] _segment;
    private Segment _probation = Segment.Empty;
    private Segment _protected = Segment.Empty;
    private uint _tick;

    public SegmentedLru(int initialSlots = 64)
    {
        _prev = new int[initialSlots];
        _next = new int[initialSlots];
        _promotedAt = new uint[initialSlots];
        _segment = new byte[initialSlots];
    }

    public int Count => _probation.Count + _protected.Count;
    public int ProtectedCount => _protected.Count;
    public int ProbationCount => _probation.Count;

    public bool Contains(int slot) => slot < _segment.Length && _segment[slot] != None;
    public bool IsProtected(int slot) => _segment[slot] == Protected;

    /// <summary>Room for slot indexes below <paramref name="slots"/>.</summary>
    public void EnsureCapacity(int slots)
    {
        if (slots <= _prev.Length) return;
        int size = Math.Max(slots, _prev.Length * 2);
        Array.Resize(ref _prev, size);
        Array.Resize(ref _next, size);
        Array.Resize(ref _promotedAt, size);
        Array.Resize(ref _segment, size);
    }

    /// <summary>A user became resident: head of probation; this counts as its first access.</summary>
    public void Add(int slot)
    {
        Debug.Assert(!Contains(slot), "slot already in the LRU");
        PushFront(ref _probation, slot);
        _segment[slot] = Fresh;
        _promotedAt[slot] = ++_tick;
    }

    /// <summary>An access.</summary>
    public void Touch(int slot)
    {
        uint tick = ++_tick;
        switch (_segment[slot])
        {
            case Protected:
                if (tick - _promotedAt[slot] < (uint)Math.Max(2, _protected.Count >> 3)) return;
                _promotedAt[slot] = tick;
                if (_protected.Head == slot) return;
                Unlink(ref _protected, slot);
                PushFront(ref _protected, slot);
                return;
            case Fresh:
                _segment[slot] = Probation;
                return;
            case Probation:
                Unlink(ref _probation, slot);
                PushFront(ref _protected, slot);
                _segment[slot] = Protected;
                _promotedAt[slot] = tick;
                if (_protected.Count > Math.Max(1, (int)(Count * ProtectedShare))) Demote();
                return;
            default:
                Debug.Fail("touching a slot that is not in the LRU");
                return;
        }
    }

    public void Remove(int slot)
    {
        switch (_segment[slot])
        {
            case Protected: Unlink(ref _protected, slot); break;
            case Probation or Fresh: Unlink(ref _probation, slot); break;
            default: Debug.Fail("removing a slot that is not in the LRU"); return;
        }
        _segment[slot] = None;
    }

    /// <summary>The user to evict next, never <paramref name="spare"/> (the one being served); -1 when there is none.</summary>
    public int Victim(int spare)
    {
        int v = _probation.Tail;
        if (v >= 0 && v == spare) v = _prev[v];
        if (v >= 0) return v;
        v = _protected.Tail;
        if (v >= 0 && v == spare) v = _prev[v];
        return v;
    }

    private void Demote()
    {
        int slot = _protected.Tail;
        Unlink(ref _protected, slot);
        PushFront(ref _probation, slot);
        _segment[slot] = Probation;
    }

    private void PushFront(ref Segment segment, int slot)
    {
        _prev[slot] = -1;
        _next[slot] = segment.Head;
        if (segment.Head >= 0) _prev[segment.Head] = slot;
        segment.Head = slot;
        if (segment.Tail < 0) segment.Tail = slot;
        segment.Count++;
    }

    private void Unlink(ref Segment segment, int slot)
    {
        int prev = _prev[slot], next = _next[slot];
        if (prev >= 0) _next[prev] = next; else segment.Head = next;
        if (next >= 0) _prev[next] = prev; else segment.Tail = prev;
        segment.Count--;
        Debug.Assert(segment.Count >= 0 && (segment.Count == 0) == (segment.Head < 0), "segment links and count disagree");
    }

    private struct Segment
    {
        public int Head;
        public int Tail;
        public int Count;

        public static Segment Empty => new() { Head = -1, Tail = -1 };
    }
}
