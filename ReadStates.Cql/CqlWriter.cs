using System.Buffers.Binary;
using System.Text;

namespace ReadStates.Cql;

/// <summary>
/// Writes protocol primitives into a pre-sized span. Encoders compute the exact size first (see the
/// <c>SizeOf</c> helpers), rent a buffer once and write straight into it, so nothing grows or copies.
/// </summary>
internal ref struct CqlWriter
{
    private readonly Span<byte> _buffer;
    private int _pos;

    public CqlWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _pos = 0;
    }

    public readonly int Position => _pos;

    public void WriteByte(byte value) => _buffer[_pos++] = value;

    public void WriteUShort(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[_pos..], value);
        _pos += 2;
    }

    public void WriteShort(short value)
    {
        BinaryPrimitives.WriteInt16BigEndian(_buffer[_pos..], value);
        _pos += 2;
    }

    public void WriteInt(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer[_pos..], value);
        _pos += 4;
    }

    public void WriteLong(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer[_pos..], value);
        _pos += 8;
    }

    public void WriteRaw(scoped ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[_pos..]);
        _pos += bytes.Length;
    }

    public void WriteString(string value)
    {
        int len = Encoding.UTF8.GetBytes(value, _buffer[(_pos + 2)..]);
        if (len > ushort.MaxValue) CqlThrow.Protocol("[string] longer than 65535 bytes.");
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[_pos..], (ushort)len);
        _pos += 2 + len;
    }

    public void WriteLongString(string value)
    {
        int len = Encoding.UTF8.GetBytes(value, _buffer[(_pos + 4)..]);
        BinaryPrimitives.WriteInt32BigEndian(_buffer[_pos..], len);
        _pos += 4 + len;
    }

    public void WriteBytes(scoped ReadOnlySpan<byte> value)
    {
        WriteInt(value.Length);
        WriteRaw(value);
    }

    public void WriteNullBytes() => WriteInt(-1);

    public void WriteShortBytes(scoped ReadOnlySpan<byte> value)
    {
        WriteUShort((ushort)value.Length);
        WriteRaw(value);
    }

    public void WriteStringMap(IReadOnlyList<KeyValuePair<string, string>> pairs)
    {
        WriteUShort((ushort)pairs.Count);
        for (int i = 0; i < pairs.Count; i++)
        {
            WriteString(pairs[i].Key);
            WriteString(pairs[i].Value);
        }
    }

    public void WriteStringList(IReadOnlyList<string> values)
    {
        WriteUShort((ushort)values.Count);
        for (int i = 0; i < values.Count; i++) WriteString(values[i]);
    }

    public void WriteUuid(Guid value)
    {
        value.TryWriteBytes(_buffer.Slice(_pos, 16), bigEndian: true, out _);
        _pos += 16;
    }

    public static int SizeOfString(string value) => 2 + Encoding.UTF8.GetByteCount(value);
    public static int SizeOfLongString(string value) => 4 + Encoding.UTF8.GetByteCount(value);

    public static int SizeOfStringMap(IReadOnlyList<KeyValuePair<string, string>> pairs)
    {
        int size = 2;
        for (int i = 0; i < pairs.Count; i++) size += SizeOfString(pairs[i].Key) + SizeOfString(pairs[i].Value);
        return size;
    }

    public static int SizeOfStringList(IReadOnlyList<string> values)
    {
        int size = 2;
        for (int i = 0; i < values.Count; i++) size += SizeOfString(values[i]);
        return size;
    }
}
