using System.Buffers;
using System.Text;

namespace ReadStates.Cql;

/// <summary>The per-request part of QUERY/EXECUTE/BATCH: consistency, values, paging, timestamp.</summary>
internal struct QueryParameters
{
    public CqlConsistency Consistency;
    public CqlValues? Values;
    /// <summary>Rows per page; 0 or less = server default (flag not sent).</summary>
    public int PageSize;
    public byte[]? PagingState;
    public CqlConsistency? SerialConsistency;
    /// <summary>Client-side write time in Unix microseconds; null = let the coordinator choose.</summary>
    public long? Timestamp;
    public bool SkipMetadata;

    public readonly QueryFlags Flags
    {
        get
        {
            var f = QueryFlags.None;
            if (Values is { Count: > 0 }) f |= QueryFlags.Values;
            if (SkipMetadata) f |= QueryFlags.SkipMetadata;
            if (PageSize > 0) f |= QueryFlags.PageSize;
            if (PagingState is not null) f |= QueryFlags.PagingState;
            if (SerialConsistency is not null) f |= QueryFlags.SerialConsistency;
            if (Timestamp is not null) f |= QueryFlags.DefaultTimestamp;
            return f;
        }
    }

    public readonly int EncodedSize
    {
        get
        {
            int size = 2 + 1;
            if (Values is { Count: > 0 }) size += 2 + Values.Encoded.Length;
            if (PageSize > 0) size += 4;
            if (PagingState is not null) size += 4 + PagingState.Length;
            if (SerialConsistency is not null) size += 2;
            if (Timestamp is not null) size += 8;
            return size;
        }
    }

    public readonly void Write(ref CqlWriter w)
    {
        w.WriteUShort((ushort)Consistency);
        w.WriteByte((byte)Flags);
        if (Values is { Count: > 0 })
        {
            w.WriteUShort((ushort)Values.Count);
            w.WriteRaw(Values.Encoded);
        }
        if (PageSize > 0) w.WriteInt(PageSize);
        if (PagingState is not null) w.WriteBytes(PagingState);
        if (SerialConsistency is { } serial) w.WriteUShort((ushort)serial);
        if (Timestamp is { } ts) w.WriteLong(ts);
    }

    public static QueryParameters Read(ref CqlReader r, CqlValues values)
    {
        var p = new QueryParameters { Consistency = (CqlConsistency)r.ReadUShort() };
        var flags = (QueryFlags)r.ReadByte();
        if ((flags & QueryFlags.NamedValues) != 0) CqlThrow.Protocol("named values are not supported.");
        values.Clear();
        if ((flags & QueryFlags.Values) != 0)
        {
            int n = r.ReadUShort();
            for (int i = 0; i < n; i++)
            {
                int len = r.ReadBytes(out var v);
                values.AddRaw(len, v);
            }
            p.Values = values;
        }
        p.SkipMetadata = (flags & QueryFlags.SkipMetadata) != 0;
        if ((flags & QueryFlags.PageSize) != 0) p.PageSize = r.ReadInt();
        if ((flags & QueryFlags.PagingState) != 0)
        {
            int len = r.ReadBytes(out var state);
            p.PagingState = len >= 0 ? state.ToArray() : null;
        }
        if ((flags & QueryFlags.SerialConsistency) != 0) p.SerialConsistency = (CqlConsistency)r.ReadUShort();
        if ((flags & QueryFlags.DefaultTimestamp) != 0) p.Timestamp = r.ReadLong();
        return p;
    }
}

/// <summary>An encoded request frame in a rented buffer (stream id patched in by the connection).</summary>
internal struct PooledFrame : IDisposable
{
    public byte[]? Buffer;
    public int Length;

    public readonly ReadOnlySpan<byte> Span => Buffer.AsSpan(0, Length);
    public readonly CqlOpcode Opcode => (CqlOpcode)Buffer![4];

    public static PooledFrame Rent(CqlOpcode opcode, int bodyLength, out CqlWriter body, CqlFrameFlags flags = CqlFrameFlags.None,
        byte version = CqlFrameHeader.RequestVersion, short stream = 0)
    {
        if (bodyLength > CqlFrameHeader.MaxBodyLength) CqlThrow.TooLarge(bodyLength);
        int total = CqlFrameHeader.Size + bodyLength;
        var buffer = ArrayPool<byte>.Shared.Rent(total);
        new CqlFrameHeader(version, flags, stream, opcode, bodyLength).Write(buffer);
        body = new CqlWriter(buffer.AsSpan(CqlFrameHeader.Size, bodyLength));
        return new PooledFrame { Buffer = buffer, Length = total };
    }

    public void Dispose()
    {
        var buffer = Buffer;
        Buffer = null;
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
    }
}

/// <summary>Encoders of request frames; each computes the body size, rents once and writes in place.</summary>
internal static class CqlRequests
{
    public static PooledFrame Options() => PooledFrame.Rent(CqlOpcode.Options, 0, out _);

    public static PooledFrame Startup(IReadOnlyList<KeyValuePair<string, string>> options)
    {
        var frame = PooledFrame.Rent(CqlOpcode.Startup, CqlWriter.SizeOfStringMap(options), out var w);
        w.WriteStringMap(options);
        return frame;
    }

    public static PooledFrame Register(IReadOnlyList<string> events)
    {
        var frame = PooledFrame.Rent(CqlOpcode.Register, CqlWriter.SizeOfStringList(events), out var w);
        w.WriteStringList(events);
        return frame;
    }

    public static PooledFrame AuthResponse(ReadOnlySpan<byte> token)
    {
        var frame = PooledFrame.Rent(CqlOpcode.AuthResponse, 4 + token.Length, out var w);
        w.WriteBytes(token);
        return frame;
    }

    /// <summary>PasswordAuthenticator's SASL PLAIN token: 0 user 0 password.</summary>
    public static byte[] PlainToken(string username, string password)
    {
        int u = Encoding.UTF8.GetByteCount(username), p = Encoding.UTF8.GetByteCount(password);
        var token = new byte[2 + u + p];
        Encoding.UTF8.GetBytes(username, token.AsSpan(1));
        Encoding.UTF8.GetBytes(password, token.AsSpan(2 + u));
        return token;
    }

    public static PooledFrame Query(string query, in QueryParameters parameters)
    {
        var frame = PooledFrame.Rent(CqlOpcode.Query, CqlWriter.SizeOfLongString(query) + parameters.EncodedSize, out var w);
        w.WriteLongString(query);
        parameters.Write(ref w);
        return frame;
    }

    public static PooledFrame Prepare(string query)
    {
        var frame = PooledFrame.Rent(CqlOpcode.Prepare, CqlWriter.SizeOfLongString(query), out var w);
        w.WriteLongString(query);
        return frame;
    }

    public static PooledFrame Execute(ReadOnlySpan<byte> id, in QueryParameters parameters)
    {
        var frame = PooledFrame.Rent(CqlOpcode.Execute, 2 + id.Length + parameters.EncodedSize, out var w);
        w.WriteShortBytes(id);
        parameters.Write(ref w);
        return frame;
    }

    public static PooledFrame Batch(CqlBatch batch, CqlConsistency consistency, CqlConsistency? serial, long? timestamp)
    {
        var entries = batch.Entries;
        int size = 1 + 2;
        for (int i = 0; i < entries.Length; i++)
        {
            ref readonly var e = ref entries[i];
            size += 1 + (e.Statement is { } s ? 2 + s.Id.Length : CqlWriter.SizeOfLongString(e.Query!)) + 2 + (e.ByteEnd - e.ByteStart);
        }
        size += 2 + 1 + (serial is null ? 0 : 2) + (timestamp is null ? 0 : 8);

        var frame = PooledFrame.Rent(CqlOpcode.Batch, size, out var w);
        w.WriteByte((byte)batch.Type);
        w.WriteUShort((ushort)entries.Length);
        var encoded = batch.Values.Encoded;
        for (int i = 0; i < entries.Length; i++)
        {
            ref readonly var e = ref entries[i];
            if (e.Statement is { } s)
            {
                w.WriteByte(1);
                w.WriteShortBytes(s.Id);
            }
            else
            {
                w.WriteByte(0);
                w.WriteLongString(e.Query!);
            }
            w.WriteUShort((ushort)e.ValueCount);
            w.WriteRaw(encoded[e.ByteStart..e.ByteEnd]);
        }
        w.WriteUShort((ushort)consistency);
        var flags = QueryFlags.None;
        if (serial is not null) flags |= QueryFlags.SerialConsistency;
        if (timestamp is not null) flags |= QueryFlags.DefaultTimestamp;
        w.WriteByte((byte)flags);
        if (serial is { } sc) w.WriteUShort((ushort)sc);
        if (timestamp is { } ts) w.WriteLong(ts);
        return frame;
    }
}
