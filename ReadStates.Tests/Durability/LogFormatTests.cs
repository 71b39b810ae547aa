using System.Text;
using ReadStates.Core;
using ReadStates.Core.Durability;
using ReadStates.Core.Storage;
using ReadStates.Tests.Core;

namespace ReadStates.Tests.Durability;

public sealed class LogFormatTests
{
    [Theory]
    [InlineData("123456789", 0xE3069283u)] // the CRC-32C check value
    [InlineData("", 0u)]
    [InlineData("a", 0xC1D04330u)]
    public void Crc32C_MatchesKnownValues(string text, uint expected)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        Assert.Equal(expected, Crc32C.Compute(bytes));
        Assert.Equal(expected, Crc32C.ComputePortable(bytes));
    }

    [Fact]
    public void Crc32C_MatchesRfc3720Vectors_AndTheHardwarePathMatchesTheTable()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
        Assert.Equal(0x46DD794Eu, Crc32C.Compute(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray()));
        var random = new Random(7);
        for (int length = 0; length < 300; length += 7)
        {
            var data = new byte[length];
            random.NextBytes(data);
            Assert.Equal(Crc32C.ComputePortable(data), Crc32C.Compute(data));
            Assert.Equal(Crc32C.Compute(data), Crc32C.Append(Crc32C.Compute(data.AsSpan(0, length / 3)), data.AsSpan(length / 3)));
        }
    }

    [Fact]
    public void Record_RoundTrips_EveryField()
    {
        var s = new ReadState { ChannelId = ulong.MaxValue, LastMessageId = 1UL << 62, ParentId = 12345, Version = 77, MentionCount = 5, Type = ReadStateType.MessageRequests, Flags = ReadStateFlags.Thread | ReadStateFlags.Deleted, LastPinTimestamp = ReadState.MaxLastPinTimestamp, LastViewed = 65535 };
        var buffer = new LogBuffer(16);
        buffer.BeginRecord(42, 78);
        buffer.AddState(s, 3, 999, [(1UL << 62) + 1, (1UL << 62) + 5]);
        buffer.AddState(new ReadState { ChannelId = 1, Version = 78 }, 0, 0, default);
        buffer.EndRecord();

        Assert.Equal(LogFormat.ReadStatus.Record, LogFormat.TryFrame(buffer.Written, out int length, out var payload));
        Assert.Equal(buffer.Length, length);
        var batch = new StateBatch();
        var ids = new ulong[1];
        Assert.True(LogFormat.TryDecode(payload, batch, ref ids));
        Assert.Equal(42UL, batch.Users[0].UserId);
        Assert.Equal(78UL, batch.Users[0].Version);
        Assert.Equal(s, batch.States[0].State);
        Assert.Equal(3, batch.States[0].OverflowCount);
        Assert.Equal(999UL, batch.States[0].OverflowMaxId);
        Assert.Equal([(1UL << 62) + 1, (1UL << 62) + 5], batch.MentionsOf(batch.States[0]).ToArray());
        Assert.Equal(2, batch.StateCount);
    }

    /// <summary>A segment of two records for user 1 / channel 1: message 1 (version 1), then message 2 (version 2).</summary>
    private static (byte[] Segment, int SecondStart) TwoRecords()
    {
        var header = new byte[LogFormat.SegmentHeader];
        LogFormat.WriteSegmentHeader(header, 1);
        var buffer = new LogBuffer();
        for (ulong m = 1; m <= 2; m++)
        {
            buffer.BeginRecord(1, m);
            buffer.AddState(new ReadState { ChannelId = 1, LastMessageId = m, Version = m }, 0, 0, default);
            buffer.EndRecord();
        }
        int second = header.Length + buffer.Length / 2;
        return ([.. header, .. buffer.Written], second);
    }

    private static async Task<ulong?> ReplayAsync(byte[] segment)
    {
        var device = new MemoryLogDevice();
        device.Replace(1, segment);
        var store = new MemoryStore();
        var logger = new TestLogger();
        var options = DurableModeTests.Durable();
        await using var engine = new ReadStateEngine(options, store, logger, logDevice: device);
        await engine.StartAsync();
        return store.Stored(1, 1)?.LastMessageId;
    }

    [Fact]
    public async Task TornTail_AtEveryByte_IsIgnored_AndNeverHalfApplied()
    {
        var (segment, second) = TwoRecords();
        Assert.Equal(2UL, await ReplayAsync(segment));
        for (int cut = second; cut < segment.Length; cut++)
            Assert.Equal(1UL, await ReplayAsync(segment[..cut]));
        Assert.Null(await ReplayAsync(segment[..(LogFormat.SegmentHeader + 3)])); // the first record torn: nothing
        Assert.Null(await ReplayAsync(segment[..5])); // died while writing the header
    }

    [Fact]
    public async Task FlippedByte_InTheLastRecord_IsDetected_AndItIsSkipped()
    {
        var (segment, second) = TwoRecords();
        for (int at = second; at < segment.Length; at++)
        {
            var bad = segment.ToArray();
            bad[at] ^= 0x10;
            Assert.Equal(1UL, await ReplayAsync(bad));
        }
    }

    [Fact]
    public async Task ZeroFilledTail_IsTheEnd()
    {
        var (segment, _) = TwoRecords();
        Assert.Equal(2UL, await ReplayAsync([.. segment, .. new byte[4096]]));
    }

    [Fact]
    public async Task UnknownSegmentFormat_RefusesToStart_RatherThanDropIt()
    {
        var (segment, _) = TwoRecords();
        segment[4] = 99; // format version
        await Assert.ThrowsAsync<ChangeLogFormatException>(() => ReplayAsync(segment));
    }
}
