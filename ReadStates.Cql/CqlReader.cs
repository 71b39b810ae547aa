using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace ReadStates.Cql;

/// <summary>Reads protocol primitives from a frame body; every read is bounds-checked.</summary>
internal ref struct CqlReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public CqlReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _pos = 0;
    }

    public readonly int Position => _pos;
    public readonly int Remaining => _data.Length - _pos;

    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)(_data.Length - _pos)) CqlThrow.Truncated();
        var span = _data.Slice(_pos, count);
        _pos += count;
        return span;
    }

    public byte ReadByte() => Take(1)[0];
    public ushort ReadUShort() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));
    public short ReadShort() => BinaryPrimitives.ReadInt16BigEndian(Take(2));
    public int ReadInt() => BinaryPrimitives.ReadInt32BigEndian(Take(4));
    public long ReadLong() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public string ReadString() => Encoding.UTF8.GetString(Take(ReadUShort()));

    public string ReadLongString()
    {
        int len = ReadInt();
        if (len < 0) CqlThrow.Protocol("negative [long string] length.");
        return Encoding.UTF8.GetString(Take(len));
    }

    /// <summary>Reads [bytes]/[value]: returns the length (-1 null, -2 unset) and the payload when non-negative.</summary>
    public int ReadBytes(out ReadOnlySpan<byte> value)
    {
        int len = ReadInt();
        value = len >= 0 ? Take(len) : default;
        return len;
    }

    public ReadOnlySpan<byte> ReadShortBytes() => Take(ReadUShort());

    public Guid ReadUuid() => new(Take(16), bigEndian: true);

    public List<string> ReadStringList()
    {
        int n = ReadUShort();
        var list = new List<string>(n);
        for (int i = 0; i < n; i++) list.Add(ReadString());
        return list;
    }

    public Dictionary<string, string> ReadStringMap()
    {
        int n = ReadUShort();
        var map = new Dictionary<string, string>(n, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            string k = ReadString();
            map[k] = ReadString();
        }
        return map;
    }

    public Dictionary<string, List<string>> ReadStringMultimap()
    {
        int n = ReadUShort();
        var map = new Dictionary<string, List<string>>(n, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            string k = ReadString();
            map[k] = ReadStringList();
        }
        return map;
    }

    public void SkipBytesMap()
    {
        int n = ReadUShort();
        for (int i = 0; i < n; i++)
        {
            ReadShortBytes();
            ReadBytes(out _);
        }
    }

    /// <summary>Reads [inet]: u8 size, address bytes, i32 port.</summary>
    public IPEndPoint ReadInet()
    {
        int size = ReadByte();
        if (size is not (4 or 16)) CqlThrow.Protocol("bad [inet] address size.");
        var address = new IPAddress(Take(size));
        return new IPEndPoint(address, ReadInt());
    }

    public void Skip(int count) => Take(count);

    public readonly ReadOnlySpan<byte> Rest => _data[_pos..];
}
