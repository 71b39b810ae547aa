using System.Runtime.CompilerServices;
using ReadStates.Core;

namespace ReadStates.Tests.Core;

public sealed class ReadStateLayoutTests
{
    [Fact]
    public void ReadState_Is44Bytes_AndTheCacheCell48() => Assert.Equal((44, 48), (Unsafe.SizeOf<ReadState>(), Unsafe.SizeOf<ReadStates.Core.Cache.CachedState>()));

    // The per-user record with its eviction-order node inside: 64 bytes, the node's ints 4-byte aligned.
    [Fact]
    public void UserSlot_Is64Bytes_WithItsLruNodeInside() =>
        Assert.Equal((64, 12, 0), (Unsafe.SizeOf<ReadStates.Core.Cache.UserSlot>(), Unsafe.SizeOf<ReadStates.Core.Cache.LruNode>(),
            LruNodeOffset() % 4));

    // The node's segment (2 bits) and promotion tick (30 bits) share a word: setting one keeps the other,
    // and a tick is kept modulo 2^30.
    [Theory]
    [InlineData(0u, (byte)3)]
    [InlineData(ReadStates.Core.Cache.LruNode.TickMask, (byte)1)]
    [InlineData(ReadStates.Core.Cache.LruNode.TickMask + 5, (byte)2)]
    [InlineData(uint.MaxValue, (byte)0)]
    public void LruNode_SegmentAndTick_ShareAWord_WithoutDisturbingEachOther(uint tick, byte segment)
    {
        var n = new ReadStates.Core.Cache.LruNode { Prev = -1, Next = 7 };
        n.Segment = segment;
        n.PromotedAt = tick;
        Assert.Equal((segment, tick & ReadStates.Core.Cache.LruNode.TickMask), (n.Segment, n.PromotedAt));
        n.Segment = (byte)(3 - segment);
        Assert.Equal(((byte)(3 - segment), tick & ReadStates.Core.Cache.LruNode.TickMask, -1, 7), (n.Segment, n.PromotedAt, n.Prev, n.Next));
    }

    // What a call reads of a slot (LRU node, block start, versions, counts, queued flag) sits in its first 40
    // bytes, the user id and the floors after: a slot straddling two cache lines then usually costs a call one.
    [Fact]
    public void UserSlot_KeepsTheFieldsACallReads_InItsFirst40Bytes()
    {
        var slot = default(ReadStates.Core.Cache.UserSlot);
        int hotEnd = new[]
        {
            End(ref slot, ref slot.Lru), End(ref slot, ref slot.StatesStart), End(ref slot, ref slot.Version),
            End(ref slot, ref slot.PersistedVersion), End(ref slot, ref slot.Count), End(ref slot, ref slot.Tombstones),
            End(ref slot, ref slot.StatesClass), End(ref slot, ref slot.Queued),
        }.Max();
        int coldStart = new[] { Start(ref slot, ref slot.UserId), Start(ref slot, ref slot.SyncFloor), Start(ref slot, ref slot.PersistedFloor) }.Min();
        Assert.Equal((40, 40), (hotEnd, coldStart));
    }

    private static int Start<T>(ref ReadStates.Core.Cache.UserSlot slot, ref T field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<ReadStates.Core.Cache.UserSlot, byte>(ref slot), ref Unsafe.As<T, byte>(ref field));

    private static int End<T>(ref ReadStates.Core.Cache.UserSlot slot, ref T field) => Start(ref slot, ref field) + Unsafe.SizeOf<T>();

    private static int LruNodeOffset()
    {
        var slot = default(ReadStates.Core.Cache.UserSlot);
        return (int)Unsafe.ByteOffset(ref Unsafe.As<ReadStates.Core.Cache.UserSlot, byte>(ref slot), ref Unsafe.As<ReadStates.Core.Cache.LruNode, byte>(ref slot.Lru));
    }

    [Fact]
    public void PackedFields_RoundTrip_WithoutDisturbingEachOther()
    {
        var s = new ReadState
        {
            MentionCount = ReadState.MaxMentionCount,
            Type = ReadStateType.MessageRequests,
            Flags = ReadState.PublicFlags,
            LastPinTimestamp = ReadState.MaxLastPinTimestamp,
            LastViewed = ReadState.MaxLastViewed,
        };
        Assert.Equal(ReadState.MaxMentionCount, s.MentionCount);
        Assert.Equal(ReadStateType.MessageRequests, s.Type);
        Assert.Equal(ReadState.PublicFlags, s.Flags);
        Assert.False(s.IsDeleted);
        Assert.Equal(ReadState.MaxLastPinTimestamp, s.LastPinTimestamp);
        Assert.Equal(ReadState.MaxLastViewed, s.LastViewed);

        s.Flags |= ReadStateFlags.Deleted;
        s.MentionCount = 3;
        s.Type = ReadStateType.GuildHome;
        s.LastPinTimestamp = 1_700_000_000_123;
        Assert.True(s.IsDeleted);
        Assert.Equal(3, s.MentionCount);
        Assert.Equal(ReadStateType.GuildHome, s.Type);
        Assert.Equal(ReadState.PublicFlags | ReadStateFlags.Deleted, s.Flags);
        Assert.Equal(1_700_000_000_123, s.LastPinTimestamp);
    }

    [Fact]
    public void OutOfRangeValues_Saturate()
    {
        var s = new ReadState { MentionCount = int.MaxValue, LastViewed = 100_000, LastPinTimestamp = long.MaxValue };
        Assert.Equal(ReadState.MaxMentionCount, s.MentionCount);
        Assert.Equal(ReadState.MaxLastViewed, s.LastViewed);
        Assert.Equal(ReadState.MaxLastPinTimestamp, s.LastPinTimestamp);
        s.MentionCount = -5;
        Assert.Equal(0, s.MentionCount);
    }
}
