using System.Runtime.CompilerServices;
using ReadStates.Core;

namespace ReadStates.Tests.Core;

public sealed class ReadStateLayoutTests
{
    [Fact]
    public void ReadState_Is44Bytes_AndTheCacheCell48() => Assert.Equal((44, 48), (Unsafe.SizeOf<ReadState>(), Unsafe.SizeOf<ReadStates.Core.Cache.CachedState>()));

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
