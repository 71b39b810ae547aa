using ReadStates.Core.Memory;

namespace ReadStates.Core.Cache;

/// <summary>
/// The ids of the unread mentions each read state counts, in pooled blocks of ulongs:
/// word 0 = size class (8 bits) | held count (24 bits) | overflow count (32 bits); word 1 = largest
/// overflowed id; then the held ids, ascending. Up to the cap every mention is exact and idempotent.
/// Past the cap the smallest held id moves to the overflow count: still counted, and cleared exactly
/// by an ack at or above the largest overflowed id, but a retried overflowed mention may count twice.
/// </summary>
internal sealed class MentionStore
{
    private const int Header = 2;
    private readonly SlabPool<ulong> _pool;
    private readonly int _cap;

    public MentionStore(int cap)
    {
        _cap = cap;
        // Doubling classes: a state collecting mentions one by one re-rents its block log2(n) times, not n.
        _pool = new SlabPool<ulong>(Header + 2, Header + cap, doubling: true);
    }

    public long RentedWords => _pool.RentedElements;
    public long ReservedWords => _pool.ReservedElements;

    /// <summary>Mentions counted past the cap (not deduplicated); a metric. Written under the shard lock.</summary>
    public long Overflows { get; private set; }

    private static int Held(ulong header) => (int)((header >> 8) & 0xFFFFFF);
    private static int Overflow(ulong header) => (int)(header >> 32);
    private static int SizeClass(ulong header) => (int)(header & 0xFF);
    private static ulong Pack(int sizeClass, int held, int overflow) => (uint)sizeClass | ((ulong)(uint)held << 8) | ((ulong)(uint)overflow << 32);

    /// <summary>Counts <paramref name="id"/> if it is above the read position and not counted yet.</summary>
    public bool Add(ref ReadState s, ulong id)
    {
        if (id <= s.LastMessageId) return false;
        if (s.MentionBlock < 0)
        {
            int cls = _pool.ClassFor(Header + 1);
            int start = _pool.Rent(cls);
            var b = _pool.Block(start, Header + 1);
            b[0] = Pack(cls, 1, 0);
            b[1] = 0;
            b[2] = id;
            s.MentionBlock = start;
            s.MentionCount = 1;
            return true;
        }

        ulong header = _pool.At(s.MentionBlock);
        int held = Held(header), overflow = Overflow(header), sizeClass = SizeClass(header);
        var ids = _pool.Block(s.MentionBlock + Header, held);
        int pos = ids.BinarySearch(id);
        if (pos >= 0) return false;
        int ins = ~pos;

        if (held < _cap)
        {
            if (Header + held + 1 > _pool.ClassSize(sizeClass))
            {
                int newClass = _pool.ClassFor(Header + held + 1);
                int newStart = _pool.Rent(newClass);
                _pool.Block(s.MentionBlock, Header + held).CopyTo(_pool.Block(newStart, Header + held));
                _pool.Return(s.MentionBlock, sizeClass);
                s.MentionBlock = newStart;
                sizeClass = newClass;
            }
            var grown = _pool.Block(s.MentionBlock + Header, held + 1);
            grown[ins..held].CopyTo(grown[(ins + 1)..]);
            grown[ins] = id;
            held++;
        }
        else
        {
            // Full: the smallest id (or the new one, if smaller still) is counted without being kept.
            ref ulong maxOverflow = ref _pool.At(s.MentionBlock + 1);
            overflow++;
            Overflows++;
            if (ins == 0)
            {
                if (id > maxOverflow) maxOverflow = id;
            }
            else
            {
                if (ids[0] > maxOverflow) maxOverflow = ids[0];
                ids[1..ins].CopyTo(ids);
                ids[ins - 1] = id;
            }
        }

        _pool.At(s.MentionBlock) = Pack(sizeClass, held, overflow);
        s.MentionCount = held + overflow;
        return true;
    }

    /// <summary>Uncounts <paramref name="id"/>: exact for held ids, best effort for overflowed ones.</summary>
    public bool Remove(ref ReadState s, ulong id)
    {
        if (s.MentionBlock < 0) return false;
        ulong header = _pool.At(s.MentionBlock);
        int held = Held(header), overflow = Overflow(header), sizeClass = SizeClass(header);
        var ids = _pool.Block(s.MentionBlock + Header, held);
        int pos = ids.BinarySearch(id);
        if (pos >= 0)
        {
            ids[(pos + 1)..].CopyTo(ids[pos..]);
            held--;
        }
        else if (overflow > 0 && id > s.LastMessageId && id <= _pool.At(s.MentionBlock + 1))
        {
            overflow--;
        }
        else
        {
            return false;
        }
        Store(ref s, sizeClass, held, overflow);
        return true;
    }

    /// <summary>Drops every counted mention at or below the new read position.</summary>
    public void AckTo(ref ReadState s, ulong position)
    {
        if (s.MentionBlock < 0) return;
        ulong header = _pool.At(s.MentionBlock);
        int held = Held(header), overflow = Overflow(header), sizeClass = SizeClass(header);
        var ids = _pool.Block(s.MentionBlock + Header, held);
        int pos = ids.BinarySearch(position);
        int firstAbove = pos >= 0 ? pos + 1 : ~pos;
        if (firstAbove > 0)
        {
            ids[firstAbove..].CopyTo(ids);
            held -= firstAbove;
        }
        if (overflow > 0 && position >= _pool.At(s.MentionBlock + 1)) overflow = 0;
        Store(ref s, sizeClass, held, overflow);
    }

    public void Free(ref ReadState s)
    {
        if (s.MentionBlock >= 0) _pool.Return(s.MentionBlock, SizeClass(_pool.At(s.MentionBlock)));
        s.MentionBlock = -1;
        s.MentionCount = 0;
    }

    public ReadOnlySpan<ulong> HeldIds(in ReadState s) =>
        s.MentionBlock < 0 ? default : _pool.Block(s.MentionBlock + Header, Held(_pool.At(s.MentionBlock)));

    public (int Count, ulong MaxId) OverflowOf(in ReadState s) =>
        s.MentionBlock < 0 ? (0, 0) : (Overflow(_pool.At(s.MentionBlock)), _pool.At(s.MentionBlock + 1));

    /// <summary>Rebuilds a block from stored ids (ascending, above the position) and overflow.</summary>
    public void Restore(ref ReadState s, ReadOnlySpan<ulong> ids, int overflow, ulong overflowMaxId)
    {
        s.MentionBlock = -1;
        s.MentionCount = 0;
        int held = Math.Min(ids.Length, _cap);
        // A lowered cap since the write: the excess smallest ids become overflow.
        if (ids.Length > held)
        {
            overflow += ids.Length - held;
            overflowMaxId = Math.Max(overflowMaxId, ids[ids.Length - held - 1]);
            ids = ids[(ids.Length - held)..];
        }
        if (held == 0 && overflow == 0) return;
        int cls = _pool.ClassFor(Header + Math.Max(held, 1));
        int start = _pool.Rent(cls);
        _pool.At(start) = Pack(cls, held, overflow);
        _pool.At(start + 1) = overflow > 0 ? overflowMaxId : 0;
        ids.CopyTo(_pool.Block(start + Header, held));
        s.MentionBlock = start;
        s.MentionCount = held + overflow;
    }

    private void Store(ref ReadState s, int sizeClass, int held, int overflow)
    {
        if (held == 0 && overflow == 0)
        {
            _pool.Return(s.MentionBlock, sizeClass);
            s.MentionBlock = -1;
            s.MentionCount = 0;
            return;
        }
        _pool.At(s.MentionBlock) = Pack(sizeClass, held, overflow);
        if (overflow == 0) _pool.At(s.MentionBlock + 1) = 0;
        s.MentionCount = held + overflow;
    }
}
