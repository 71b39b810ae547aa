using System.Numerics;

namespace ReadStates.Core.Storage;

/// <summary>
/// Unsigned LEB128 varints (7 bits per byte, low bits first, high bit = more follow) and zigzag for
/// signed values: the one implementation both stores' value encodings use. Decoding is strict: at most
/// 10 bytes, and a 10th byte may only carry the 64th bit, so every ulong has one accepted encoding
/// length and nothing overflows silently.
/// </summary>
public static class Varint
{
    public const int MaxLength = 10;

    /// <summary>Bytes needed for <paramref name="value"/>.</summary>
    public static int Size(ulong value) => value == 0 ? 1 : (64 - BitOperations.LeadingZeroCount(value) + 6) / 7;

    /// <summary>Writes <paramref name="value"/>; <paramref name="destination"/> must have <see cref="Size"/> bytes. Returns the bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Reads a varint at <paramref name="position"/> and advances it; false when truncated or over 64 bits (position unchanged).</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, ref int position, out ulong value)
    {
        value = 0;
        int pos = position;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= source.Length) return false;
            byte b = source[pos++];
            if (shift == 63 && b > 1) return false;
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                position = pos;
                return true;
            }
        }
        return false;
    }

    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);
}
