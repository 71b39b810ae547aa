using System.Buffers.Binary;
using ReadStates.Core.Storage;

namespace ReadStates.Core.Durability;

/// <summary>
/// The change log's bytes. A segment starts with a 16-byte header (magic "RSCL", format version, segment
/// id); then records, each [payload length u32 LE][CRC-32C of the length bytes and payload u32 LE][payload].
/// A payload is one user's changed states: kind 1, user id and version (varints), state count (u32),
/// then each state (channel and last message ids fixed 8 bytes, the rest varints, mention ids as
/// ascending deltas). A record is physical redo: the states as they are after the change, so replay is
/// "newest version wins" and needs no rules. A crash mid-write leaves a short or mis-summed tail record:
/// the reader stops there and nothing of it is applied.
/// </summary>
internal static class LogFormat
{
    public const int SegmentHeader = 16;
    public const int RecordHeader = 8;
    public const byte KindUserStates = 1;
    public const uint Magic = 0x4C435352; // "RSCL" little-endian
    public const uint FormatVersion = 1;
    /// <summary>Larger than any record the engine writes (10 000 states with 10 000 mention ids each stays below).</summary>
    public const int MaxPayload = 1 << 30;

    public static void WriteSegmentHeader(Span<byte> destination, long segment)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], segment);
    }

    public static bool IsSegmentHeader(ReadOnlySpan<byte> header, out uint version) 
    {
        version = header.Length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) : 0;
        return header.Length >= SegmentHeader && BinaryPrimitives.ReadUInt32LittleEndian(header) == Magic;
    }

    /// <summary>Writes the length and checksum of a record whose payload follows its 8-byte header.</summary>
    public static void Seal(Span<byte> record)
    {
        int payload = record.Length - RecordHeader;
        BinaryPrimitives.WriteInt32LittleEndian(record, payload);
        uint crc = Crc32C.Append(Crc32C.Compute(record[..4]), record[RecordHeader..]);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], crc);
    }

    public enum ReadStatus
    {
        Record,
        /// <summary>The bytes end inside a record (at the end of a segment: a torn tail).</summary>
        Truncated,
        /// <summary>A length of zero (never written: zero-filled space after a crash) or past any real record.</summary>
        End,
        /// <summary>The checksum does not match.</summary>
        Corrupt,
    }

    /// <summary>Frames the record at the start of <paramref name="data"/>; on <see cref="ReadStatus.Record"/>, <paramref name="length"/> is its full size.</summary>
    public static ReadStatus TryFrame(ReadOnlySpan<byte> data, out int length, out ReadOnlySpan<byte> payload)
    {
        length = 0;
        payload = default;
        if (data.Length < RecordHeader) return data.Length == 0 ? ReadStatus.End : ReadStatus.Truncated;
        int size = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (size <= 0 || size > MaxPayload) return ReadStatus.End;
        if (data.Length - RecordHeader < size) return ReadStatus.Truncated;
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        var body = data.Slice(RecordHeader, size);
        if (Crc32C.Append(Crc32C.Compute(data[..4]), body) != expected) return ReadStatus.Corrupt;
        length = RecordHeader + size;
        payload = body;
        return ReadStatus.Record;
    }

    /// <summary>Decodes a payload into one user of <paramref name="into"/>; false when malformed (nothing usable).</summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, StateBatch into, ref ulong[] ids)
    {
        int pos = 0;
        if (payload.Length < 1 || payload[pos++] != KindUserStates) return false;
        if (!Varint.TryRead(payload, ref pos, out ulong userId) || userId == 0) return false;
        if (!Varint.TryRead(payload, ref pos, out ulong version)) return false;
        if (payload.Length - pos < 4) return false;
        int count = BinaryPrimitives.ReadInt32LittleEndian(payload[pos..]);
        pos += 4;
        if (count < 0) return false;
        into.BeginUser(userId, version);
        for (int n = 0; n < count; n++)
        {
            if (payload.Length - pos < 16) return false;
            var s = new ReadState
            {
                ChannelId = BinaryPrimitives.ReadUInt64LittleEndian(payload[pos..]),
                LastMessageId = BinaryPrimitives.ReadUInt64LittleEndian(payload[(pos + 8)..]),
            };
            pos += 16;
            if (!Varint.TryRead(payload, ref pos, out ulong parent)) return false;
            if (!Varint.TryRead(payload, ref pos, out ulong stateVersion)) return false;
            if (!Varint.TryRead(payload, ref pos, out ulong mentions)) return false;
            if (pos >= payload.Length) return false;
            byte typeFlags = payload[pos++];
            if (!Varint.TryRead(payload, ref pos, out ulong pin)) return false;
            if (!Varint.TryRead(payload, ref pos, out ulong viewed)) return false;
            if (!Varint.TryRead(payload, ref pos, out ulong overflow)) return false;
            if (!Varint.TryRead(payload, ref pos, out ulong overflowMax)) return false;
            if (!Varint.TryRead(payload, ref pos, out ulong held) || held > (ulong)(payload.Length - pos)) return false;
            if (s.ChannelId == 0 || mentions > int.MaxValue || overflow > int.MaxValue || pin > ReadState.MaxLastPinTimestamp || viewed > ReadState.MaxLastViewed) return false;
            s.ParentId = parent;
            s.Version = stateVersion;
            s.MentionCount = (int)mentions;
            s.Type = (ReadStateType)(typeFlags & 0xF);
            s.Flags = (ReadStateFlags)(typeFlags >> 4);
            s.LastPinTimestamp = (long)pin;
            s.LastViewed = (int)viewed;
            if (ids.Length < (int)held) ids = new ulong[Math.Max((int)held, ids.Length * 2)];
            ulong previous = 0;
            for (int k = 0; k < (int)held; k++)
            {
                if (!Varint.TryRead(payload, ref pos, out ulong delta) || delta == 0) return false;
                previous += delta;
                ids[k] = previous;
            }
            into.AddState(s, (int)overflow, overflowMax, ids.AsSpan(0, (int)held));
        }
        return pos == payload.Length;
    }
}
