using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ReadStates.Core.Cache;

/// <summary>
/// A read state as a shard's arena holds it: the public record plus where its mention ids are in the
/// shard's <see cref="MentionArena"/>. 48 bytes, unmanaged. The reference is stored plus one, so a
/// default-initialised cell has no mention block rather than pointing at block 0.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct CachedState
{
    public ReadState State;
    private int _mentionRef;

    /// <summary>
    /// Makes this cell hold <paramref name="state"/> with no mention block, written in place. (There is no
    /// constructor on purpose: <c>cells[i] = new CachedState(state)</c> builds the cell in a stack temporary first, and
    /// reading the 44-byte temporary back (one 32-byte load over two overlapping stores) misses store-to-load
    /// forwarding: on a store load, that stall was half of restoring a user's states.)
    /// </summary>
    public void Set(in ReadState state)
    {
        State = state;
        _mentionRef = 0;
    }

    public readonly bool HasMentionBlock => _mentionRef != 0;

    /// <summary>Start of the mention block in the arena; only valid when <see cref="HasMentionBlock"/>.</summary>
    public readonly int MentionBlock
    {
        get
        {
            Debug.Assert(_mentionRef > 0, "no mention block");
            return _mentionRef - 1;
        }
    }

    public void SetMentionBlock(int start)
    {
        Debug.Assert(start >= 0, "a block start is never negative");
        _mentionRef = start + 1;
    }

    public void ClearMentionBlock() => _mentionRef = 0;
}
