using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;

namespace ReadStates.Tests.RocksDb;

public class ReadStateCodecTests
{
    private static (ReadState State, int OverflowCount, ulong OverflowMaxId, ulong[] Mentions, int Length) RoundTrip(
        StoredState stored, ulong[] mentions, ulong channelId)
    {
        var buffer = new byte[ReadStateCodec.MaxEncodedLength(mentions.Length)];
        int length = ReadStateCodec.Encode(stored, mentions, buffer);
        var scratch = new ulong[1];
        ReadStateCodec.Decode(buffer.AsSpan(0, length), channelId, out var state, out int oc, out ulong om, ref scratch, out int n);
        return (state, oc, om, scratch[..n], length);
    }

    [Fact]
    public void EveryField_SurvivesRoundTrip()
    {
        var stored = new StoredState
        {
            State = new ReadState
            {
                ChannelId = 42,
                LastMessageId = 1_234_567_890_123_456_789,
                ParentId = 987_654_321_987_654_321,
                LastPinTimestamp = 1_764_000_000_000,
                Version = 77,
                MentionCount = 105,
                LastViewed = 20_000,
                Type = ReadStateType.GuildOnboardingQuestion,
                Flags = ReadStateFlags.GuildChannel | ReadStateFlags.Thread | ReadStateFlags.LowImportanceMention,
            },
            OverflowCount = 2,
            OverflowMaxId = 1_234_567_890_123_999_999,
        };
        ulong[] mentions = [1_234_567_890_123_456_790, 1_234_567_890_123_456_800, 1_234_567_890_123_900_000];

        var r = RoundTrip(stored, mentions, 42);

        var expected = stored.State;
        Assert.Equal(expected, r.State);
        Assert.Equal(2, r.OverflowCount);
        Assert.Equal(1_234_567_890_123_999_999UL, r.OverflowMaxId);
        Assert.Equal(mentions, r.Mentions);
    }

    [Fact]
    public void AllZeroState_EncodesToHeaderOnly_AndDecodesToZeros()
    {
        var stored = new StoredState { State = new ReadState { ChannelId = 9 } };

        var r = RoundTrip(stored, [], 9);

        Assert.Equal(3, r.Length);
        Assert.Equal(9UL, r.State.ChannelId);
        Assert.Equal(0UL, r.State.LastMessageId);
        Assert.Equal(0, r.State.MentionCount);
        Assert.Equal(ReadStateType.Channel, r.State.Type);
        Assert.Equal(ReadStateFlags.None, r.State.Flags);
        Assert.Equal(0, r.OverflowCount);
        Assert.Equal(0UL, r.OverflowMaxId);
        Assert.Empty(r.Mentions);
    }

    [Fact]
    public void ExtremeValues_SurviveRoundTrip()
    {
        var stored = new StoredState
        {
            State = new ReadState
            {
                ChannelId = ulong.MaxValue,
                LastMessageId = ulong.MaxValue,
                ParentId = ulong.MaxValue,
                LastPinTimestamp = ReadState.MaxLastPinTimestamp,
                Version = ulong.MaxValue,
                MentionCount = ReadState.MaxMentionCount,
                LastViewed = ReadState.MaxLastViewed,
                Type = ReadStateType.MessageRequests,
            },
            OverflowCount = int.MaxValue,
            OverflowMaxId = ulong.MaxValue,
        };
        ulong[] mentions = [1, ulong.MaxValue - 1, ulong.MaxValue];

        var r = RoundTrip(stored, mentions, ulong.MaxValue);

        Assert.Equal(ulong.MaxValue, r.State.LastMessageId);
        Assert.Equal(ulong.MaxValue, r.State.ParentId);
        Assert.Equal(ReadState.MaxLastPinTimestamp, r.State.LastPinTimestamp);
        Assert.Equal(ulong.MaxValue, r.State.Version);
        Assert.Equal(ReadState.MaxMentionCount, r.State.MentionCount);
        Assert.Equal(ReadState.MaxLastViewed, r.State.LastViewed);
        Assert.Equal(int.MaxValue, r.OverflowCount);
        Assert.Equal(ulong.MaxValue, r.OverflowMaxId);
        Assert.Equal(mentions, r.Mentions);
    }

    [Fact]
    public void ManyCloseMentionIds_TakeAboutOneByteEach()
    {
        const int count = 10_000;
        var mentions = new ulong[count];
        for (int i = 0; i < count; i++) mentions[i] = 1_300_000_000_000_000_000UL + ((ulong)i * 100);
        var stored = new StoredState { State = new ReadState { MentionCount = count } };

        var r = RoundTrip(stored, mentions, 1);

        Assert.Equal(mentions, r.Mentions);
        Assert.True(r.Length < 3 + 3 + 3 + 8 + count, $"encoded {r.Length} bytes");
    }

    [Fact]
    public void UnsortedMentionIds_AreStoredAscending()
    {
        var stored = new StoredState { State = new ReadState { MentionCount = 3 } };

        var r = RoundTrip(stored, [30, 10, 20], 1);

        Assert.Equal([10UL, 20UL, 30UL], r.Mentions);
    }

    [Fact]
    public void DeletedFlag_IsNeverStored()
    {
        var stored = new StoredState { State = new ReadState { Flags = ReadStateFlags.Thread | ReadStateFlags.Deleted } };

        var r = RoundTrip(stored, [], 1);

        Assert.Equal(ReadStateFlags.Thread, r.State.Flags);
    }

    [Fact]
    public void TruncatedValue_IsRejectedAsCorrupt()
    {
        var stored = new StoredState { State = new ReadState { LastMessageId = 5, Version = 3 } };
        var buffer = new byte[ReadStateCodec.MaxEncodedLength(2)];
        int length = ReadStateCodec.Encode(stored, [7, 9], buffer);
        var scratch = new ulong[4];

        for (int cut = 0; cut < length; cut++)
        {
            var bytes = buffer[..cut];
            Assert.Throws<InvalidDataException>(() =>
                ReadStateCodec.Decode(bytes, 1, out _, out _, out _, ref scratch, out _));
        }
    }

    [Fact]
    public void UnknownFormatOrTrailingBytes_AreRejected()
    {
        var scratch = new ulong[1];
        byte[] unknownFormat = [3, 0, 0];
        byte[] tombstoneWithTrailing = [ReadStateCodec.FormatTombstone, 1, 1, 0];
        byte[] trailing = [ReadStateCodec.FormatV1, 0, 0, 0];

        Assert.Throws<InvalidDataException>(() => ReadStateCodec.Decode(unknownFormat, 1, out _, out _, out _, ref scratch, out _));
        Assert.Throws<InvalidDataException>(() => ReadStateCodec.Decode(trailing, 1, out _, out _, out _, ref scratch, out _));
        Assert.Throws<InvalidDataException>(() => ReadStateCodec.Decode(tombstoneWithTrailing, 1, out _, out _, out _, ref scratch, out _));
    }

    [Fact]
    public void Tombstone_RoundTrips_ItsVersionAndDeletionTime_Compactly()
    {
        var buffer = new byte[ReadStateCodec.MaxTombstoneLength];
        var scratch = new ulong[1];
        int n = ReadStateCodec.EncodeTombstone(ReadState.Tombstone(5, 300, 1_700_000_000_123), buffer);
        ReadStateCodec.Decode(buffer.AsSpan(0, n), 5, out var state, out int overflow, out _, ref scratch, out int mentions);
        Assert.True(state.IsDeleted);
        Assert.Equal((5UL, 300UL, 1_700_000_000_123L, 0, 0), (state.ChannelId, state.Version, state.DeletedAt, overflow, mentions));
        Assert.True(n <= 9, $"a tombstone takes {n} bytes");
    }
}
