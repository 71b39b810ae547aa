using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ReadStates.Core.Cache;

/// <summary>
/// The eviction policy of one shard: a segmented LRU (SLRU) over slot indexes. Its nodes
/// (<see cref="LruNode"/>: links, promotion tick, segment) live wherever <typeparamref name="TNodes"/> keeps
/// them: inside the shard's <see cref="UserSlot"/> array, so a touch reads the cache line the call reads
/// anyway and the garbage collector sees no object per user; in a plain array for tests.
/// <list type="bullet">
/// <item>A user made resident enters the head of <b>probation</b>. The access that made it resident
/// (a load or a reinstated eviction) counts as its first; the next access promotes it.</item>
/// <item>A user accessed again while in probation moves to the head of <b>protected</b>. When the shard
/// evicts, protected keeps at most <see cref="SegmentedLru.ProtectedShare"/> of the resident users: each victim
/// chosen first moves up to <see cref="SegmentedLru.DemotionsPerVictim"/> of its least recent users back to the
/// head of probation, where one more access saves them. A shard under capacity enforces no share, so users
/// coming back in turn (every user of a small shard) cost one relink, not a promotion and a demotion.</item>
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
internal sealed class SegmentedLru<TNodes>(TNodes nodes) where TNodes : struct, ILruNodes
{
    private const byte None = 0, Fresh = 1, Probation = 2, Protected = 3;

    private TNodes _nodes = nodes;
    private Segment _probation = Segment.Empty;
    private Segment _protected = Segment.Empty;
    private uint _tick;

    public int Count => _probation.Count + _protected.Count;
    public int ProtectedCount => _protected.Count;
    public int ProbationCount => _probation.Count;

    public bool Contains(int slot) => _nodes[slot].Segment != None;
    public bool IsProtected(int slot) => _nodes[slot].Segment == Protected;

    /// <summary>A user became resident: head of probation; this counts as its first access.</summary>
    public void Add(int slot)
    {
        Debug.Assert(!Contains(slot), "slot already in the LRU");
        PushFront(ref _probation, slot);
        ref var n = ref _nodes[slot];
        n.Segment = Fresh;
        n.PromotedAt = ++_tick;
    }

    /// <summary>An access. The common case (a protected user promoted recently) is one compare, inlined into the caller.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Touch(int slot) => Touch(slot, ref _nodes[slot]);

    /// <summary>An access, with the slot's node already at hand (the shard holds the slot's reference: one lookup fewer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Touch(int slot, ref LruNode n)
    {
        Debug.Assert(Unsafe.AreSame(ref n, ref _nodes[slot]), "the node is not the slot's");
        uint tick = ++_tick;
        if (n.Segment == Protected && ((tick - n.PromotedAt) & LruNode.TickMask) < (uint)Math.Max(2, _protected.Count >> 3)) return;
        TouchSlow(slot, tick);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TouchSlow(int slot, uint tick)
    {
        ref var n = ref _nodes[slot];
        switch (n.Segment)
        {
            case Protected:
                n.PromotedAt = tick;
                if (_protected.Head == slot) return;
                Unlink(ref _protected, slot);
                PushFront(ref _protected, slot);
                return;
            case Fresh:
                n.Segment = Probation;
                return;
            case Probation:
                Unlink(ref _probation, slot);
                PushFront(ref _protected, slot);
                n.Segment = Protected;
                n.PromotedAt = tick;
                return;
            default:
                Debug.Fail("touching a slot that is not in the LRU");
                return;
        }
    }

    public void Remove(int slot)
    {
        switch (_nodes[slot].Segment)
        {
            case Protected: Unlink(ref _protected, slot); break;
            case Probation or Fresh: Unlink(ref _probation, slot); break;
            default: Debug.Fail("removing a slot that is not in the LRU"); return;
        }
        _nodes[slot].Segment = None;
    }

    /// <summary>The user to evict next, never <paramref name="spare"/> (the one being served); -1 when there is none.</summary>
    public int Victim(int spare)
    {
        // Protected's share is enforced here, when the shard must evict, a few users per victim: a shard under
        // capacity never shuffles users between the segments.
        for (int i = 0; i < SegmentedLru.DemotionsPerVictim && _protected.Count > ProtectedLimit; i++) Demote();
        int v = _probation.Tail;
        if (v >= 0 && v == spare) v = _nodes[v].Prev;
        if (v >= 0) return v;
        v = _protected.Tail;
        if (v >= 0 && v == spare) v = _nodes[v].Prev;
        return v;
    }

    private int ProtectedLimit => Math.Max(1, (int)(Count * SegmentedLru.ProtectedShare));

    private void Demote()
    {
        int slot = _protected.Tail;
        Unlink(ref _protected, slot);
        PushFront(ref _probation, slot);
        _nodes[slot].Segment = Probation;
    }

    private void PushFront(ref Segment segment, int slot)
    {
        ref var n = ref _nodes[slot];
        n.Prev = -1;
        n.Next = segment.Head;
        if (segment.Head >= 0) _nodes[segment.Head].Prev = slot;
        segment.Head = slot;
        if (segment.Tail < 0) segment.Tail = slot;
        segment.Count++;
    }

    private void Unlink(ref Segment segment, int slot)
    {
        ref var n = ref _nodes[slot];
        int prev = n.Prev, next = n.Next;
        if (prev >= 0) _nodes[prev].Next = next; else segment.Head = next;
        if (next >= 0) _nodes[next].Prev = prev; else segment.Tail = prev;
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

/// <summary>What <see cref="SegmentedLru{TNodes}"/> needs of its storage: the node of a slot.</summary>
internal interface ILruNodes
{
    ref LruNode this[int slot] { get; }
}

/// <summary>
/// One slot's place in the eviction order: 12 bytes, so that a <see cref="UserSlot"/> with it inside is
/// 64 bytes (the size of a cache line; the slot array is not line-aligned, see UserSlot). The segment (2 bits) and the promotion tick (30 bits) share one word; ticks are
/// compared modulo 2^30, which is exact while fewer than 2^30 accesses separate two promotions of one user
/// that are compared (the window compared is an eighth of protected's population). While a slot is free,
/// <see cref="Next"/> is the next free slot.
/// </summary>
internal struct LruNode
{
    /// <summary>Ticks are 30 bits: the other 2 of the word are the segment.</summary>
    public const uint TickMask = (1u << 30) - 1;

    public int Prev;
    public int Next;
    private uint _word;

    /// <summary>Which segment the slot is in (none, fresh, probation, protected).</summary>
    public byte Segment
    {
        readonly get => (byte)(_word & 3);
        set => _word = (_word & ~3u) | value;
    }

    /// <summary>The access tick (modulo 2^30) when this slot was last moved to its segment's head.</summary>
    public uint PromotedAt
    {
        readonly get => _word >> 2;
        set => _word = (value << 2) | (_word & 3);
    }
}

/// <summary>The policy's constants, and nodes in a plain array (tests, tools).</summary>
internal static class SegmentedLru
{
    /// <summary>Protected's share of the resident users: 80 %, as in the SLRU and W-TinyLFU papers.</summary>
    public const double ProtectedShare = 0.8;

    /// <summary>Users over protected's share moved back to probation each time a victim is chosen.</summary>
    public const int DemotionsPerVictim = 2;

    public static SegmentedLru<ArrayNodes> OverArray(int slots) => new(new ArrayNodes(new LruNode[slots]));

    internal readonly struct ArrayNodes(LruNode[] nodes) : ILruNodes
    {
        public ref LruNode this[int slot] => ref nodes[slot];
    }
}
