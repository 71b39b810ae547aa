using System.Buffers;

namespace ReadStates.Cql;

/// <summary>A PREPARED result: the id, the bind variables (with partition-key positions) and the result columns.</summary>
internal sealed class PreparedResult
{
    public required byte[] Id { get; init; }
    public required CqlColumn[] Variables { get; init; }
    /// <summary>Positions among <see cref="Variables"/> of the partition key components, in key order.</summary>
    public required int[] PartitionKeyIndexes { get; init; }
    public required CqlColumn[] ResultColumns { get; init; }
}

internal sealed record SchemaChange(string ChangeType, string Target, string Options);

/// <summary>Decoders of RESULT bodies.</summary>
internal static class CqlResults
{
    public static CqlResultKind ReadKind(ReadOnlySpan<byte> body)
    {
        var r = new CqlReader(body);
        return (CqlResultKind)r.ReadInt();
    }

    /// <summary>Reads a rows-metadata block (after the kind).</summary>
    public static CqlColumn[] ReadRowsMetadata(ref CqlReader r, out RowsFlags flags, out byte[]? pagingState)
    {
        flags = (RowsFlags)r.ReadInt();
        int count = r.ReadInt();
        if (count < 0 || count > 65535) CqlThrow.Protocol("bad column count.");
        pagingState = null;
        if ((flags & RowsFlags.HasMorePages) != 0)
        {
            int len = r.ReadBytes(out var state);
            if (len >= 0) pagingState = state.ToArray();
        }
        if ((flags & RowsFlags.NoMetadata) != 0) return [];
        return ReadColumnSpecs(ref r, flags, count);
    }

    private static CqlColumn[] ReadColumnSpecs(ref CqlReader r, RowsFlags flags, int count)
    {
        string ks = "", table = "";
        bool global = (flags & RowsFlags.GlobalTablesSpec) != 0;
        if (global)
        {
            ks = r.ReadString();
            table = r.ReadString();
        }
        var columns = new CqlColumn[count];
        for (int i = 0; i < count; i++)
        {
            string cks = ks, ctable = table;
            if (!global)
            {
                cks = r.ReadString();
                ctable = r.ReadString();
            }
            string name = r.ReadString();
            columns[i] = new CqlColumn(cks, ctable, name, CqlType.Read(ref r));
        }
        return columns;
    }

    public static PreparedResult ReadPrepared(ReadOnlySpan<byte> body)
    {
        var r = new CqlReader(body);
        if ((CqlResultKind)r.ReadInt() != CqlResultKind.Prepared) CqlThrow.Protocol("expected a PREPARED result.");
        byte[] id = r.ReadShortBytes().ToArray();
        var flags = (RowsFlags)r.ReadInt();
        int count = r.ReadInt();
        int pkCount = r.ReadInt();
        if (count < 0 || pkCount < 0 || pkCount > count) CqlThrow.Protocol("bad prepared metadata.");
        var pk = new int[pkCount];
        for (int i = 0; i < pkCount; i++) pk[i] = r.ReadUShort();
        var variables = ReadColumnSpecs(ref r, flags, count);
        var resultColumns = ReadRowsMetadata(ref r, out _, out _);
        return new PreparedResult { Id = id, Variables = variables, PartitionKeyIndexes = pk, ResultColumns = resultColumns };
    }

    public static string ReadSetKeyspace(ReadOnlySpan<byte> body)
    {
        var r = new CqlReader(body);
        r.ReadInt();
        return r.ReadString();
    }

    public static SchemaChange ReadSchemaChange(ReadOnlySpan<byte> body)
    {
        var r = new CqlReader(body);
        r.ReadInt();
        string change = r.ReadString();
        string target = r.ReadString();
        string options = r.ReadString();
        if (target != "KEYSPACE" && r.Remaining > 0) options += "." + r.ReadString();
        return new SchemaChange(change, target, options);
    }
}

/// <summary>
/// A page of rows. Owns the response buffer until disposed; cells are read in place
/// (<see cref="MoveNext"/> then typed getters by column index).
/// </summary>
public sealed class CqlRowSet : IDisposable
{
    private byte[]? _buffer;
    private readonly int _end;
    private int _pos;
    private int _row = -1;
    private readonly int[] _cellOffsets;
    private readonly int[] _cellLengths;

    public CqlColumn[] Columns { get; }
    public int RowCount { get; }
    /// <summary>Non-null when more pages follow: send it back with the same request.</summary>
    public byte[]? PagingState { get; }

    private CqlRowSet(byte[] buffer, int pos, int end, CqlColumn[] columns, int rowCount, byte[]? pagingState)
    {
        _buffer = buffer;
        _pos = pos;
        _end = end;
        Columns = columns;
        RowCount = rowCount;
        PagingState = pagingState;
        _cellOffsets = new int[columns.Length];
        _cellLengths = new int[columns.Length];
    }

    public static CqlRowSet Empty { get; } = new([], 0, 0, [], 0, null);

    /// <summary>Takes ownership of the response buffer when the result is Rows; otherwise returns null and leaves it.</summary>
    internal static CqlRowSet? FromResponse(ref CqlResponse response)
    {
        var r = new CqlReader(response.Body);
        if ((CqlResultKind)r.ReadInt() != CqlResultKind.Rows) return null;
        var columns = CqlResults.ReadRowsMetadata(ref r, out _, out var paging);
        int rows = r.ReadInt();
        if (rows < 0) CqlThrow.Protocol("negative row count.");
        var set = new CqlRowSet(response.Buffer!, response.Offset + r.Position, response.Length, columns, rows, paging);
        response.Buffer = null;
        return set;
    }

    public int IndexOf(string name)
    {
        for (int i = 0; i < Columns.Length; i++)
            if (Columns[i].Name == name) return i;
        return -1;
    }

    public bool MoveNext()
    {
        if (_row + 1 >= RowCount) return false;
        _row++;
        var r = new CqlReader(_buffer.AsSpan(_pos, _end - _pos));
        for (int c = 0; c < Columns.Length; c++)
        {
            int start = r.Position;
            int len = r.ReadBytes(out _);
            _cellOffsets[c] = _pos + start + 4;
            _cellLengths[c] = len;
        }
        _pos += r.Position;
        return true;
    }

    public bool IsNull(int column) => _cellLengths[column] < 0;

    public ReadOnlySpan<byte> GetBytes(int column)
        => _cellLengths[column] < 0 ? default : _buffer.AsSpan(_cellOffsets[column], _cellLengths[column]);

    public long GetInt64(int column) => IsNull(column) ? 0 : System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(Fixed(column, 8));
    public int GetInt32(int column) => IsNull(column) ? 0 : System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(Fixed(column, 4));
    public sbyte GetSByte(int column) => IsNull(column) ? (sbyte)0 : (sbyte)Fixed(column, 1)[0];
    public bool GetBoolean(int column) => !IsNull(column) && Fixed(column, 1)[0] != 0;
    public string? GetString(int column) => IsNull(column) ? null : System.Text.Encoding.UTF8.GetString(GetBytes(column));
    public object? GetValue(int column) => IsNull(column) ? null : Columns[column].Type.Decode(GetBytes(column));

    private ReadOnlySpan<byte> Fixed(int column, int size)
    {
        if (_cellLengths[column] != size) CqlThrow.Protocol($"column {Columns[column].Name} has {_cellLengths[column]} bytes, expected {size}.");
        return _buffer.AsSpan(_cellOffsets[column], size);
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = null;
        if (buffer is { Length: > 0 }) ArrayPool<byte>.Shared.Return(buffer);
    }
}
