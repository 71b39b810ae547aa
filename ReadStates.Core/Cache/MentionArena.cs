using System.Diagnostics;
using ReadStates.Core.Memory;

namespace ReadStates.Core.Cache;

/// <summary>
/// The ids of the unread mentions each cached state counts, in pooled blocks of ulongs:
/// word 0 = size class (8 bits) | held count (24 bits) | overflow count (32 bits); word 1 = largest
/// overflowed id; then the held ids, ascending. Up to the cap every mention is exact and idempotent.
/// Past the cap the smallest held id moves to the overflow count: still counted, and cleared exactly
/// by an ack at or above the largest overflowed id, but a retried overflowed mention may count twice.
/// WARNING: runs under the shard lock (not thread-safe): copy and compute only, never allocate per
/// call or call out.
/// </summary>
internal sealed class MentionArena
{
    private const int Header = 2;
    private readonly SlabPool<ulong> _pool;
    private readonly int _cap;
    private long _overflowed;

    public MentionArena(int cap)
    {
        _cap = cap;
        // Doubling classes: a state collecting mentions one by one re-rents its block log2(n) times, not n.
        _pool = new SlabPool<ulong>(Header + 2, Header + cap, doubling: true);
    }

    public long RentedWords => _pool.RentedElements;
    public long ReservedWords => _pool.ReservedElements;

    /// <summary>Mentions counted past the id cap (no longer exactly deduplicated), since start.</summary>
    public long Overflowed => _overflowed;

    private static int Held(ulong header) => (int)((header >> 8) & 0xFFFFFF);
    private static int Overflow(ulong header) => (int)(header >> 32);
    private static int SizeClass(ulong header) => (int)(header & 0xFF);
    private static ulong Pack(int sizeClass, int held, int overflow) => (uint)sizeClass | ((ulong)(uint)held << 8) | ((ulong)(uint)overflow << 32);

    /// <summary>Counts <paramref name="id"/> if it is above the read position and not counted yet.</summary>
    public bool Add(ref CachedState c, ulong id)
    {
        ref var s = ref c.State;
        if (id <= s.LastMessageId) return false;
        if (!c.HasMentionBlock)
        {
            int cls = _pool.ClassFor(Header + 1);
            int start = _pool.Rent(cls);
            var b = _pool.Block(start, Header + 1);
            b[0] = Pack(cls, 1, 0);
            b[1] = 0;
            b[2] = id;
            c.SetMentionBlock(start);
            s.MentionCount = 1;
            return true;
        }

        int block = c.MentionBlock;
        ulong header = _pool.At(block);
        int held = Held(header), overflow = Overflow(header), sizeClass = SizeClass(header);
        var ids = _pool.Block(block + Header, held);
        int pos = ids.BinarySearch(id);
        if (pos >= 0) return false;
        int ins = ~pos;

        if (held < _cap)
        {
            if (Header + held + 1 > _pool.ClassSize(sizeClass))
            {
                int newClass = _pool.ClassFor(Header + held + 1);
                int newStart = _pool.Rent(newClass);
                _pool.Block(block, Header + held).CopyTo(_pool.Block(newStart, Header + held));
                _pool.Return(block, sizeClass);
                block = newStart;
                c.SetMentionBlock(block);
                sizeClass = newClass;
            }
            var grown = _pool.Block(block + Header, held + 1);
            grown[ins..held].CopyTo(grown[(ins + 1)..]);
            grown[ins] = id;
            held++;
        }
        else
        {
            // Full: the smallest id (or the new one, if smaller still) is counted without being kept.
            ref ulong maxOverflow = ref _pool.At(block + 1);
            overflow++;
            _overflowed++;
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

        _pool.At(block) = Pack(sizeClass, held, overflow);
        s.MentionCount = held + overflow;
        return true;
    }

    /// <summary>Uncounts <paramref name="id"/>: exact for held ids, best effort for overflowed ones.</summary>
    public bool Remove(ref CachedState c, ulong id)
    {
        if (!c.HasMentionBlock) return false;
        int block = c.MentionBlock;
        ulong header = _pool.At(block);
        int held = Held(header), overflow = Overflow(header), sizeClass = SizeClass(header);
        var ids = _pool.Block(block + Header, held);
        int pos = ids.BinarySearch(id);
        if (pos >= 0)
        {
            ids[(pos + 1)..].CopyTo(ids[pos..]);
            held--;
        }
        else if (overflow > 0 && id > c.State.LastMessageId && id <= _pool.At(block + 1))
        {
            overflow--;
        }
        else
        {
            return false;
        }
        Store(ref c, sizeClass, held, overflow);
        return true;
    }

    /// <summary>Drops every counted mention at or below the new read position.</summary>
    public void AckTo(ref CachedState c, ulong position)
    {
        if (!c.HasMentionBlock) return;
        int block = c.MentionBlock;
        ulong header = _pool.At(block);
        int held = Held(header), overflow = Overflow(header), sizeClass = SizeClass(header);
        var ids = _pool.Block(block + Header, held);
        int pos = ids.BinarySearch(position);
        int firstAbove = pos >= 0 ? pos + 1 : ~pos;
        if (firstAbove > 0)
        {
            ids[firstAbove..].CopyTo(ids);
            held -= firstAbove;
        }
        if (overflow > 0 && position >= _pool.At(block + 1)) overflow = 0;
        Store(ref c, sizeClass, held, overflow);
    }

    public void Free(ref CachedState c)
    {
        if (c.HasMentionBlock) _pool.Return(c.MentionBlock, SizeClass(_pool.At(c.MentionBlock)));
        c.ClearMentionBlock();
        c.State.MentionCount = 0;
    }

    public ReadOnlySpan<ulong> HeldIds(in CachedState c) =>
        c.HasMentionBlock ? _pool.Block(c.MentionBlock + Header, Held(_pool.At(c.MentionBlock))) : default;

    public (int Count, ulong MaxId) OverflowOf(in CachedState c) =>
        c.HasMentionBlock ? (Overflow(_pool.At(c.MentionBlock)), _pool.At(c.MentionBlock + 1)) : (0, 0);

    /// <summary>Rebuilds a block from stored ids (ascending, above the position) and overflow.</summary>
    public void Restore(ref CachedState c, ReadOnlySpan<ulong> ids, int overflow, ulong overflowMaxId)
    {
        Debug.Assert(!c.HasMentionBlock, "restoring over a live block would leak it");
        c.ClearMentionBlock();
        c.State.MentionCount = 0;
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
        c.SetMentionBlock(start);
        c.State.MentionCount = held + overflow;
    }

    private void Store(ref CachedState c, int sizeClass, int held, int overflow)
    {
        int block = c.MentionBlock;
        if (held == 0 && overflow == 0)
        {
            _pool.Return(block, sizeClass);
            c.ClearMentionBlock();
            c.State.MentionCount = 0;
            return;
        }
        _pool.At(block) = Pack(sizeClass, held, overflow);
        if (overflow == 0) _pool.At(block + 1) = 0;
        c.State.MentionCount = held + overflow;
    }
}
