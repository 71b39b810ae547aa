using System.Buffers.Binary;
using System.Net;
using System.Numerics;
using System.Text;

namespace ReadStates.Cql;

/// <summary>A column type as carried by [option]; collections keep their element types.</summary>
public sealed class CqlType
{
    private static readonly CqlType[] s_simple = CreateSimple();

    public CqlTypeCode Code { get; }
    public CqlType? Element { get; }
    public CqlType? Value { get; }
    public string? CustomClass { get; }

    private CqlType(CqlTypeCode code, CqlType? element = null, CqlType? value = null, string? customClass = null)
    {
        Code = code;
        Element = element;
        Value = value;
        CustomClass = customClass;
    }

    private static CqlType[] CreateSimple()
    {
        var types = new CqlType[0x15];
        for (int i = 0; i < types.Length; i++) types[i] = new CqlType((CqlTypeCode)i);
        return types;
    }

    public static CqlType Of(CqlTypeCode code) => (ushort)code < s_simple.Length ? s_simple[(ushort)code] : new CqlType(code);
    public static CqlType SetOf(CqlType element) => new(CqlTypeCode.Set, element);
    public static CqlType ListOf(CqlType element) => new(CqlTypeCode.List, element);
    public static CqlType MapOf(CqlType key, CqlType value) => new(CqlTypeCode.Map, key, value);

    public static readonly CqlType Bigint = Of(CqlTypeCode.Bigint);
    public static readonly CqlType Int = Of(CqlTypeCode.Int);
    public static readonly CqlType Tinyint = Of(CqlTypeCode.Tinyint);
    public static readonly CqlType Blob = Of(CqlTypeCode.Blob);
    public static readonly CqlType Boolean = Of(CqlTypeCode.Boolean);
    public static readonly CqlType Timestamp = Of(CqlTypeCode.Timestamp);
    public static readonly CqlType Varchar = Of(CqlTypeCode.Varchar);
    public static readonly CqlType Uuid = Of(CqlTypeCode.Uuid);
    public static readonly CqlType Inet = Of(CqlTypeCode.Inet);

    /// <summary>Reads an [option] type.</summary>
    internal static CqlType Read(ref CqlReader reader)
    {
        var code = (CqlTypeCode)reader.ReadUShort();
        switch (code)
        {
            case CqlTypeCode.Custom:
                return new CqlType(code, customClass: reader.ReadString());
            case CqlTypeCode.List:
            case CqlTypeCode.Set:
                return new CqlType(code, Read(ref reader));
            case CqlTypeCode.Map:
            {
                var key = Read(ref reader);
                return new CqlType(code, key, Read(ref reader));
            }
            case CqlTypeCode.Udt:
            {
                reader.ReadString();
                reader.ReadString();
                int n = reader.ReadUShort();
                for (int i = 0; i < n; i++)
                {
                    reader.ReadString();
                    Read(ref reader);
                }
                return new CqlType(code);
            }
            case CqlTypeCode.Tuple:
            {
                int n = reader.ReadUShort();
                for (int i = 0; i < n; i++) Read(ref reader);
                return new CqlType(code);
            }
            default:
                if ((ushort)code > (ushort)CqlTypeCode.Tinyint) CqlThrow.Protocol($"unknown type id 0x{(ushort)code:X}.");
                return Of(code);
        }
    }

    internal void Write(ref CqlWriter writer)
    {
        writer.WriteUShort((ushort)Code);
        if (Code == CqlTypeCode.Custom) writer.WriteString(CustomClass ?? "");
        else if (Code is CqlTypeCode.List or CqlTypeCode.Set) Element!.Write(ref writer);
        else if (Code == CqlTypeCode.Map)
        {
            Element!.Write(ref writer);
            Value!.Write(ref writer);
        }
    }

    public int EncodedSize => Code switch
    {
        CqlTypeCode.Custom => 2 + CqlWriter.SizeOfString(CustomClass ?? ""),
        CqlTypeCode.List or CqlTypeCode.Set => 2 + Element!.EncodedSize,
        CqlTypeCode.Map => 2 + Element!.EncodedSize + Value!.EncodedSize,
        _ => 2,
    };

    /// <summary>Decodes a non-null value into a boxed CLR value (used off the hot path: topology, tests).</summary>
    public object Decode(ReadOnlySpan<byte> v)
    {
        switch (Code)
        {
            case CqlTypeCode.Bigint:
            case CqlTypeCode.Counter:
                return BinaryPrimitives.ReadInt64BigEndian(v);
            case CqlTypeCode.Timestamp:
                return DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(v));
            case CqlTypeCode.Int:
                return BinaryPrimitives.ReadInt32BigEndian(v);
            case CqlTypeCode.Smallint:
                return BinaryPrimitives.ReadInt16BigEndian(v);
            case CqlTypeCode.Tinyint:
                return (sbyte)v[0];
            case CqlTypeCode.Boolean:
                return v[0] != 0;
            case CqlTypeCode.Double:
                return BinaryPrimitives.ReadDoubleBigEndian(v);
            case CqlTypeCode.Float:
                return BinaryPrimitives.ReadSingleBigEndian(v);
            case CqlTypeCode.Ascii:
            case CqlTypeCode.Varchar:
                return Encoding.UTF8.GetString(v);
            case CqlTypeCode.Uuid:
            case CqlTypeCode.Timeuuid:
                return new Guid(v, bigEndian: true);
            case CqlTypeCode.Inet:
                return new IPAddress(v);
            case CqlTypeCode.Varint:
                return new BigInteger(v, isUnsigned: false, isBigEndian: true);
            case CqlTypeCode.List:
            case CqlTypeCode.Set:
            {
                var r = new CqlReader(v);
                int n = r.ReadInt();
                var list = new List<object?>(n);
                for (int i = 0; i < n; i++)
                {
                    int len = r.ReadBytes(out var item);
                    list.Add(len < 0 ? null : Element!.Decode(item));
                }
                return list;
            }
            case CqlTypeCode.Map:
            {
                var r = new CqlReader(v);
                int n = r.ReadInt();
                var map = new Dictionary<object, object?>(n);
                for (int i = 0; i < n; i++)
                {
                    r.ReadBytes(out var k);
                    int len = r.ReadBytes(out var item);
                    map[Element!.Decode(k)] = len < 0 ? null : Value!.Decode(item);
                }
                return map;
            }
            default:
                return v.ToArray();
        }
    }

    public override string ToString() => Code switch
    {
        CqlTypeCode.Set => $"set<{Element}>",
        CqlTypeCode.List => $"list<{Element}>",
        CqlTypeCode.Map => $"map<{Element}, {Value}>",
        _ => Code.ToString().ToLowerInvariant(),
    };
}

/// <summary>One column spec of a metadata block.</summary>
public sealed record CqlColumn(string Keyspace, string Table, string Name, CqlType Type);
