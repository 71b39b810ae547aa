using ReadStates.Storage.Scylla;

namespace ReadStates.Tests.Scylla;

public class MentionIdsCodecTests
{
    private static byte[] Encode(int overflow, ulong maxId, ulong[] ids)
    {
        var buffer = new byte[MentionIdsCodec.MaxSize(ids.Length)];
        return buffer.AsSpan(0, MentionIdsCodec.Encode(overflow, maxId, ids, buffer)).ToArray();
    }

    [Fact]
    public void NoMentionsAndNoOverflow_IsAnEmptyBlob()
        => Assert.Empty(Encode(0, 0, []));

    [Fact]
    public void Layout_IsFormatOverflowMaxCountThenZigzagDeltas()
    {
        // format 1 | overflow 3 | max id 1000 = e8 07 | n 3 | +10 → 20 | +2 → 4 | -7 → 13
        Assert.Equal("0103e807031404" + "0d", Convert.ToHexString(Encode(3, 1000, [10, 12, 5])).ToLowerInvariant());
    }

    [Fact]
    public void RandomIdsAndOverflow_RoundTrip()
    {
        var rng = new Random(42);
        for (int round = 0; round < 300; round++)
        {
            var input = Enumerable.Range(0, rng.Next(0, 120)).Select(_ => (ulong)rng.NextInt64() * (ulong)rng.Next(1, 3)).ToArray();
            if (round % 2 == 0) Array.Sort(input);
            int overflow = rng.Next(0, 3) == 0 ? 0 : rng.Next(0, int.MaxValue);
            ulong max = (ulong)rng.NextInt64();
            var blob = Encode(overflow, max, input);
            var ids = new ulong[MentionIdsCodec.PeekCount(blob)];
            int n = MentionIdsCodec.Decode(blob, out int o, out ulong m, ids);
            Assert.Equal(input, ids.AsSpan(0, n).ToArray());
            Assert.Equal(overflow, o);
            Assert.Equal(max, m);
        }
    }

    [Fact]
    public void AscendingSnowflakes_TakeFewBytesEach()
    {
        ulong start = 1_300_000_000_000_000_000;
        var ids = Enumerable.Range(0, 100).Select(i => start + (ulong)i * 4_194_304).ToArray();
        Assert.True(Encode(0, 0, ids).Length < 10 + 100 * 5);
    }

    [Fact]
    public void CorruptBlobs_AreRejected()
    {
        var ids = new ulong[8];
        Assert.Throws<FormatException>(() => MentionIdsCodec.Decode([2, 0, 0, 0], out _, out _, ids));
        Assert.Throws<FormatException>(() => MentionIdsCodec.Decode([1, 0, 0, 5, 2], out _, out _, ids));
        Assert.Throws<FormatException>(() => MentionIdsCodec.Decode([1, 0x80], out _, out _, ids));
        Assert.Throws<FormatException>(() => MentionIdsCodec.PeekCount([1, 0, 0, 9, 2]));
        Assert.Throws<ArgumentException>(() => MentionIdsCodec.Decode([1, 0, 0, 2, 2, 2], out _, out _, new ulong[1]));
    }
}
