using ReadStates.Core.Storage;

namespace ReadStates.Storage.Scylla;

/// <summary>
/// The <c>mention_ids</c> blob: empty when a state holds no mention ids and no overflow; otherwise
/// <c>0x01 (format) | uvarint overflow_count | uvarint overflow_max_id | uvarint n | n × varint delta</c>,
/// where each id is written as the zigzag-encoded signed difference from the previous one (the first
/// from 0), so ascending snowflakes take a few bytes each and any order still round-trips.
/// uvarint = unsigned LEB128 (7 bits per byte, low first, high bit = more).
/// </summary>
internal static class MentionIdsCodec
{
    public const byte Format = 1;

    public static int MaxSize(int count) => 1 + 3 * 10 + count * 10;

    public static int Encode(int overflowCount, ulong overflowMaxId, ReadOnlySpan<ulong> ids, Span<byte> destination)
    {
        if (overflowCount == 0 && overflowMaxId == 0 && ids.IsEmpty) return 0;
        if (overflowCount < 0) throw new ArgumentOutOfRangeException(nameof(overflowCount));
        int pos = 0;
        destination[pos++] = Format;
        pos += Varint.Write(destination[pos..], (ulong)overflowCount);
        pos += Varint.Write(destination[pos..], overflowMaxId);
        pos += Varint.Write(destination[pos..], (ulong)ids.Length);
        ulong previous = 0;
        foreach (ulong id in ids)
        {
            long delta = unchecked((long)(id - previous));
            pos += Varint.Write(destination[pos..], Varint.ZigZag(delta));
            previous = id;
        }
        return pos;
    }

    /// <summary>How many ids a blob holds (to size the destination of <see cref="Decode"/>).</summary>
    public static int PeekCount(ReadOnlySpan<byte> blob)
    {
        if (blob.IsEmpty) return 0;
        if (blob[0] != Format) throw new FormatException($"Unknown mention_ids format {blob[0]}.");
        int pos = 1;
        ReadVarint(blob, ref pos);
        ReadVarint(blob, ref pos);
        ulong n = ReadVarint(blob, ref pos);
        if (n > (ulong)(blob.Length - pos)) throw new FormatException("mention_ids count exceeds the blob.");
        return (int)n;
    }

    /// <summary>Decodes a blob into <paramref name="ids"/> (at least <see cref="PeekCount"/> long). Returns the id count.</summary>
    public static int Decode(ReadOnlySpan<byte> blob, out int overflowCount, out ulong overflowMaxId, Span<ulong> ids)
    {
        overflowCount = 0;
        overflowMaxId = 0;
        if (blob.IsEmpty) return 0;
        if (blob[0] != Format) throw new FormatException($"Unknown mention_ids format {blob[0]}.");
        int pos = 1;
        ulong overflow = ReadVarint(blob, ref pos);
        if (overflow > int.MaxValue) throw new FormatException("mention_ids overflow count out of range.");
        overflowCount = (int)overflow;
        overflowMaxId = ReadVarint(blob, ref pos);
        ulong n = ReadVarint(blob, ref pos);
        if (n > (ulong)(blob.Length - pos)) throw new FormatException("mention_ids count exceeds the blob.");
        if ((int)n > ids.Length) throw new ArgumentException($"Room for {ids.Length} ids, the blob holds {n}.", nameof(ids));
        ulong previous = 0;
        for (int i = 0; i < (int)n; i++)
        {
            ulong zigzag = ReadVarint(blob, ref pos);
            long delta = Varint.UnZigZag(zigzag);
            previous = unchecked(previous + (ulong)delta);
            ids[i] = previous;
        }
        if (pos != blob.Length) throw new FormatException("Trailing bytes after mention_ids.");
        return (int)n;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> source, ref int pos) =>
        Varint.TryRead(source, ref pos, out ulong value) ? value : throw new FormatException("Truncated or overlong varint in mention_ids.");

    /// <summary>Bytes of one unsigned varint (used by tests and size estimates).</summary>
    public static int VarintSize(ulong value) => Varint.Size(value);
}
