using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ReadStates.Cql;

/// <summary>
/// A reusable list of bound values, kept encoded as consecutive <c>[value]</c>s in one pooled buffer.
/// Clear and refill it per request: after warm-up, binding allocates nothing.
/// </summary>
public sealed class CqlValues : IDisposable
{
    public const int NullLength = -1;
    public const int UnsetLength = -2;

    private byte[] _buffer;
    private int _length;
    private int[] _offsets = new int[16];

    public CqlValues(int initialBytes = 256) => _buffer = ArrayPool<byte>.Shared.Rent(initialBytes);

    public int Count { get; private set; }

    /// <summary>The encoded values (without the leading u16 count).</summary>
    public ReadOnlySpan<byte> Encoded => _buffer.AsSpan(0, _length);

    public void Clear()
    {
        _length = 0;
        Count = 0;
    }

    /// <summary>The payload of value <paramref name="index"/>; returns its length field (-1 null, -2 unset).</summary>
    public int GetValue(int index, out ReadOnlySpan<byte> payload)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        int offset = _offsets[index];
        int len = BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(offset));
        payload = len >= 0 ? _buffer.AsSpan(offset + 4, len) : default;
        return len;
    }

    private Span<byte> Begin(int payloadLength)
    {
        int needed = _length + 4 + Math.Max(payloadLength, 0);
        if (needed > _buffer.Length) Grow(needed);
        if (Count == _offsets.Length) Array.Resize(ref _offsets, _offsets.Length * 2);
        _offsets[Count++] = _length;
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), payloadLength);
        var payload = _buffer.AsSpan(_length + 4, Math.Max(payloadLength, 0));
        _length = needed;
        return payload;
    }

    private void Grow(int needed)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void AddNull() => Begin(NullLength);

    /// <summary>Unset: the column is left as it is (no tombstone, no overwrite).</summary>
    public void AddUnset() => Begin(UnsetLength);

    public void AddBigint(long value) => BinaryPrimitives.WriteInt64BigEndian(Begin(8), value);
    public void AddInt(int value) => BinaryPrimitives.WriteInt32BigEndian(Begin(4), value);
    public void AddSmallint(short value) => BinaryPrimitives.WriteInt16BigEndian(Begin(2), value);
    public void AddTinyint(sbyte value) => Begin(1)[0] = (byte)value;
    public void AddBoolean(bool value) => Begin(1)[0] = value ? (byte)1 : (byte)0;
    public void AddDouble(double value) => BinaryPrimitives.WriteDoubleBigEndian(Begin(8), value);

    /// <summary>timestamp: milliseconds since the Unix epoch.</summary>
    public void AddTimestamp(long unixMilliseconds) => AddBigint(unixMilliseconds);

    public void AddBlob(scoped ReadOnlySpan<byte> value) => value.CopyTo(Begin(value.Length));

    public void AddText(string? value)
    {
        if (value is null) { AddNull(); return; }
        Encoding.UTF8.GetBytes(value, Begin(Encoding.UTF8.GetByteCount(value)));
    }

    public void AddVarint(System.Numerics.BigInteger value)
    {
        int n = value.GetByteCount(isUnsigned: false);
        value.TryWriteBytes(Begin(n), out _, isUnsigned: false, isBigEndian: true);
    }

    public void AddUuid(Guid value) => value.TryWriteBytes(Begin(16), bigEndian: true, out _);

    public void AddInet(IPAddress value)
    {
        int size = value.AddressFamily == AddressFamily.InterNetworkV6 ? 16 : 4;
        value.TryWriteBytes(Begin(size), out _);
    }

    /// <summary>set&lt;varchar&gt; / list&lt;varchar&gt;: i32 count then each element as i32 length + bytes.</summary>
    public void AddTextCollection(IReadOnlyCollection<string>? values)
    {
        if (values is null) { AddNull(); return; }
        int size = 4;
        foreach (var v in values) size += 4 + Encoding.UTF8.GetByteCount(v);
        var span = Begin(size);
        BinaryPrimitives.WriteInt32BigEndian(span, values.Count);
        int pos = 4;
        foreach (var v in values)
        {
            int n = Encoding.UTF8.GetBytes(v, span[(pos + 4)..]);
            BinaryPrimitives.WriteInt32BigEndian(span[pos..], n);
            pos += 4 + n;
        }
    }

    /// <summary>Appends an already encoded value (length field semantics as in <see cref="GetValue"/>).</summary>
    public void AddRaw(int length, scoped ReadOnlySpan<byte> payload)
    {
        if (length < 0) Begin(length);
        else payload.CopyTo(Begin(length));
    }

    /// <summary>Appends every value of <paramref name="other"/>.</summary>
    public void AddAll(CqlValues other)
    {
        for (int i = 0; i < other.Count; i++)
        {
            int len = other.GetValue(i, out var payload);
            AddRaw(len, payload);
        }
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }
}
