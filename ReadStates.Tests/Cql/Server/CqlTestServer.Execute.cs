using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using ReadStates.Cql;

namespace ReadStates.Tests.Cql.Server;

internal sealed partial class CqlTestServer
{
    private static readonly Guid s_schemaVersion = Guid.Parse("5e1f0d3a-1f43-4d6b-9b87-0c2b3a4d5e6f");

    private sealed record RowsResult(string Keyspace, string Table, List<(string Name, CqlType Type)> Columns, List<byte[]?[]> Rows, byte[]? PagingState);

    private static long NowMicros() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;

    private PooledFrame Execute(ServerConnection connection, short stream, ParsedStatement s, CqlValues values, in QueryParameters p)
    {
        if (values.Count != s.Variables.Count && s.Kind is StatementKind.Select or StatementKind.Insert or StatementKind.Update or StatementKind.Delete)
            throw new TestServerException(CqlErrorCode.Invalid, $"There were {s.Variables.Count} markers(?) in CQL but {values.Count} bound variables");
        switch (s.Kind)
        {
            case StatementKind.CreateKeyspace:
                if (_options.RejectTablets && s.Query.Contains("tablets", StringComparison.OrdinalIgnoreCase))
                    throw new TestServerException(CqlErrorCode.ConfigError, "Unknown property 'tablets'");
                if (!Tables.CreateKeyspace(s.Keyspace))
                {
                    if (s.IfNotExists) return Respond(stream, CqlOpcode.Result, static (ref CqlWriter w) => w.WriteInt((int)CqlResultKind.Void));
                    throw new TestServerException(CqlErrorCode.AlreadyExists, $"Keyspace {s.Keyspace} already exists");
                }
                return SchemaChangeResult(stream, "KEYSPACE", s.Keyspace, null);
            case StatementKind.CreateTable:
                if (!Tables.CreateTable(s.NewTable!))
                {
                    if (s.IfNotExists) return Respond(stream, CqlOpcode.Result, static (ref CqlWriter w) => w.WriteInt((int)CqlResultKind.Void));
                    throw new TestServerException(CqlErrorCode.AlreadyExists, $"Table {s.Keyspace}.{s.Table} already exists");
                }
                return SchemaChangeResult(stream, "TABLE", s.Keyspace, s.Table);
            case StatementKind.AlterTableAdd:
                var (column, type) = s.NewColumn!.Value;
                if (!Tables.AddColumn(s.Schema!, column, type))
                    throw new TestServerException(CqlErrorCode.Invalid, $"Invalid column name {column} because it conflicts with an existing column");
                return SchemaChangeResult(stream, "TABLE", s.Keyspace, s.Table, "UPDATED");
            case StatementKind.Use:
                connection.Use(s.Keyspace);
                return Respond(stream, CqlOpcode.Result, (ref CqlWriter w) =>
                {
                    w.WriteInt((int)CqlResultKind.SetKeyspace);
                    w.WriteString(s.Keyspace);
                });
            case StatementKind.SystemLocal:
                return RowsFrame(stream, SystemRows(s, TestStatements.LocalColumns, [LocalRow()]), s.SelectColumns, p);
            case StatementKind.SystemPeers:
                return RowsFrame(stream, SystemRows(s, TestStatements.PeerColumns, Peers.Select(PeerRow).ToList()), s.SelectColumns, p);
            case StatementKind.SystemEmpty:
                return RowsFrame(stream, new RowsResult(s.Keyspace, s.Table, [], [], null), [], p);
            case StatementKind.Select:
                return RowsFrame(stream, Select(s, values, p), s.SelectColumns, p);
            default:
                Apply(s, values, 0, p.Timestamp ?? NowMicros());
                return Respond(stream, CqlOpcode.Result, static (ref CqlWriter w) => w.WriteInt((int)CqlResultKind.Void));
        }
    }

    private PooledFrame ExecuteBatch(ServerConnection connection, short stream, ref CqlReader r)
    {
        var type = (CqlBatchType)r.ReadByte();
        int n = r.ReadUShort();
        var statements = new List<(ParsedStatement Statement, int FirstValue)>(n);
        using var values = new CqlValues();
        for (int i = 0; i < n; i++)
        {
            byte kind = r.ReadByte();
            ParsedStatement s = kind == 0 ? TestStatements.Parse(r.ReadLongString(), null, Tables) : Lookup(r.ReadShortBytes().ToArray());
            int count = r.ReadUShort();
            int first = values.Count;
            for (int v = 0; v < count; v++)
            {
                int len = r.ReadBytes(out var payload);
                values.AddRaw(len, payload);
            }
            if (count != s.Variables.Count) throw new TestServerException(CqlErrorCode.Invalid, "wrong number of batch values");
            if (s.Kind is not (StatementKind.Insert or StatementKind.Update or StatementKind.Delete))
                throw new TestServerException(CqlErrorCode.Invalid, "Only INSERT, UPDATE and DELETE statements are allowed in BATCH");
            statements.Add((s, first));
        }
        r.ReadUShort();
        var flags = (QueryFlags)r.ReadByte();
        if ((flags & QueryFlags.SerialConsistency) != 0) r.ReadUShort();
        long timestamp = (flags & QueryFlags.DefaultTimestamp) != 0 ? r.ReadLong() : NowMicros();
        foreach (var (s, _) in statements) Requests.Enqueue((CqlOpcode.Batch, connection.Shard, s.Query));
        var partitions = new HashSet<string>();
        foreach (var (s, first) in statements)
        {
            int[] pk = s.PartitionKeyIndexes();
            partitions.Add(string.Join("|", pk.Select(i => { values.GetValue(first + i, out var v); return Convert.ToHexString(v); })));
        }
        Batches.Enqueue(new BatchRecord(type, statements.Count, timestamp, partitions.Count, connection.Shard, partitions.First()));
        lock (Tables.Sync)
        {
            foreach (var (s, first) in statements) Apply(s, values, first, timestamp);
        }
        return Respond(stream, CqlOpcode.Result, static (ref CqlWriter w) => w.WriteInt((int)CqlResultKind.Void));
    }

    /// <summary>The bound or literal value of a term: null with unset = true for an unset marker.</summary>
    private static byte[]? Bind(Term t, CqlType type, CqlValues values, int first, out bool unset)
    {
        unset = false;
        if (!t.IsMarker) return TestStatements.Literal(t.Literal!, type);
        int len = values.GetValue(first + t.Marker, out var payload);
        if (len == CqlValues.UnsetLength)
        {
            unset = true;
            return null;
        }
        return len < 0 ? null : payload.ToArray();
    }

    private static byte[][] Key(ParsedStatement s, IReadOnlyList<(string Column, Term Term)> terms, string[] columns, CqlValues values, int first, bool required)
    {
        var key = new byte[columns.Length][];
        for (int i = 0; i < columns.Length; i++)
        {
            int found = terms.ToList().FindIndex(t => t.Column == columns[i]);
            if (found < 0)
            {
                if (required) throw new TestServerException(CqlErrorCode.Invalid, $"Some clustering keys are missing: {columns[i]}");
                return null!;
            }
            key[i] = Bind(terms[found].Term, s.Schema!.TypeOf(columns[i]), values, first, out bool unset)
                ?? throw new TestServerException(CqlErrorCode.Invalid, unset ? $"Invalid unset value for column {columns[i]}" : $"Invalid null value for column {columns[i]}");
        }
        return key;
    }

    private void Apply(ParsedStatement s, CqlValues values, int first, long defaultTimestamp)
    {
        var t = s.Schema!;
        long ts = defaultTimestamp;
        if (s.UsingTimestamp is { } term && Bind(term, CqlType.Bigint, values, first, out _) is { } tsBytes) ts = BinaryPrimitives.ReadInt64BigEndian(tsBytes);
        switch (s.Kind)
        {
            case StatementKind.Insert:
            case StatementKind.Update:
            {
                var keyTerms = s.Kind == StatementKind.Insert ? s.Assignments : s.Where;
                var pk = Key(s, keyTerms, t.PartitionKey, values, first, required: true);
                var ck = Key(s, keyTerms, t.ClusteringKey, values, first, required: true);
                var cells = new List<KeyValuePair<string, byte[]?>>();
                foreach (var (col, value) in s.Assignments)
                {
                    if (t.PartitionKey.Contains(col) || t.ClusteringKey.Contains(col)) continue;
                    var bytes = Bind(value, t.TypeOf(col), values, first, out bool unset);
                    if (!unset) cells.Add(new(col, bytes));
                }
                Tables.Write(t, pk, ck, cells, ts, withMarker: s.Kind == StatementKind.Insert);
                break;
            }
            case StatementKind.Delete:
            {
                var pk = Key(s, s.Where, t.PartitionKey, values, first, required: true);
                var ck = Key(s, s.Where, t.ClusteringKey, values, first, required: false);
                if (ck is null) Tables.DeletePartition(t, pk, ts);
                else Tables.DeleteRow(t, pk, ck, ts);
                break;
            }
        }
    }

    private RowsResult Select(ParsedStatement s, CqlValues values, in QueryParameters p)
    {
        var t = s.Schema!;
        var pk = Key(s, s.Where, t.PartitionKey, values, 0, required: false)
            ?? throw new TestServerException(CqlErrorCode.Invalid, "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING");
        var ck = t.ClusteringKey.Length > 0 && s.Where.Exists(w => w.Column == t.ClusteringKey[0])
            ? Key(s, s.Where, t.ClusteringKey, values, 0, required: true) : null;
        var all = Tables.Read(t, pk, ck);
        if (s.Limit is int limit && all.Count > limit) all = all.GetRange(0, limit);
        int start = p.PagingState is { Length: 4 } state ? BinaryPrimitives.ReadInt32BigEndian(state) : 0;
        int count = p.PageSize > 0 ? Math.Min(p.PageSize, all.Count - start) : all.Count - start;
        count = Math.Max(0, count);
        byte[]? paging = null;
        if (start + count < all.Count)
        {
            paging = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(paging, start + count);
        }
        var columns = s.SelectColumns.Select(c => (c, t.TypeOf(c))).ToList();
        var rows = all.GetRange(start, count).Select(row => s.SelectColumns.Select(c => row.GetValueOrDefault(c)).ToArray()).ToList();
        return new RowsResult(t.Keyspace, t.Name, columns, rows, paging);
    }

    private static RowsResult SystemRows(ParsedStatement s, List<(string Name, CqlType Type)> schema, List<Dictionary<string, byte[]?>> rows)
    {
        var names = s.SelectColumns.Length == 1 && s.SelectColumns[0] == "*" ? schema.Select(c => c.Name).ToArray() : s.SelectColumns;
        var columns = names.Select(n => (n, schema.Find(c => c.Name == n).Type ?? throw new TestServerException(CqlErrorCode.Invalid, $"Undefined column name {n}"))).ToList();
        var values = rows.Select(r => names.Select(n => r.GetValueOrDefault(n)).ToArray()).ToList();
        return new RowsResult(s.Keyspace, s.Table, columns, values, null);
    }

    private static byte[] Text(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Tokens(long[] tokens)
    {
        using var v = new CqlValues();
        v.AddTextCollection(tokens.Select(t => t.ToString(CultureInfo.InvariantCulture)).ToList());
        v.GetValue(0, out var payload);
        return payload.ToArray();
    }

    private static byte[] Uuid(Guid g)
    {
        var b = new byte[16];
        g.TryWriteBytes(b, bigEndian: true, out _);
        return b;
    }

    private Dictionary<string, byte[]?> LocalRow() => new()
    {
        ["key"] = Text("local"),
        ["bootstrapped"] = Text("COMPLETED"),
        ["broadcast_address"] = _options.Address.GetAddressBytes(),
        ["cluster_name"] = Text("readstates-test"),
        ["cql_version"] = Text("3.3.1"),
        ["data_center"] = Text(_options.Datacenter),
        ["host_id"] = Uuid(HostId),
        ["listen_address"] = _options.Address.GetAddressBytes(),
        ["native_protocol_version"] = Text("4"),
        ["partitioner"] = Text("org.apache.cassandra.dht.Murmur3Partitioner"),
        ["rack"] = Text(_options.Rack),
        ["release_version"] = Text("3.0.8"),
        ["rpc_address"] = _options.Address.GetAddressBytes(),
        ["schema_version"] = Uuid(s_schemaVersion),
        ["tokens"] = Tokens(_options.Tokens),
    };

    private static Dictionary<string, byte[]?> PeerRow((IPAddress Address, string Datacenter, long[] Tokens) peer) => new()
    {
        ["peer"] = peer.Address.GetAddressBytes(),
        ["data_center"] = Text(peer.Datacenter),
        ["host_id"] = Uuid(new Guid(System.Security.Cryptography.MD5.HashData(peer.Address.GetAddressBytes()))),
        ["preferred_ip"] = null,
        ["rack"] = Text("rack1"),
        ["release_version"] = Text("3.0.8"),
        ["rpc_address"] = peer.Address.GetAddressBytes(),
        ["schema_version"] = Uuid(s_schemaVersion),
        ["tokens"] = Tokens(peer.Tokens),
    };

    private static PooledFrame RowsFrame(short stream, RowsResult result, string[] _, in QueryParameters p)
    {
        bool skipMetadata = p.SkipMetadata;
        return Respond(stream, CqlOpcode.Result, (ref CqlWriter w) =>
        {
            w.WriteInt((int)CqlResultKind.Rows);
            var flags = RowsFlags.GlobalTablesSpec;
            if (result.PagingState is not null) flags |= RowsFlags.HasMorePages;
            if (skipMetadata) flags |= RowsFlags.NoMetadata;
            w.WriteInt((int)flags);
            w.WriteInt(result.Columns.Count);
            if (result.PagingState is not null) w.WriteBytes(result.PagingState);
            if (!skipMetadata)
            {
                w.WriteString(result.Keyspace);
                w.WriteString(result.Table);
                foreach (var (name, type) in result.Columns)
                {
                    w.WriteString(name);
                    type.Write(ref w);
                }
            }
            w.WriteInt(result.Rows.Count);
            foreach (var row in result.Rows)
                foreach (var cell in row)
                {
                    if (cell is null) w.WriteNullBytes();
                    else w.WriteBytes(cell);
                }
        });
    }

    private static PooledFrame SchemaChangeResult(short stream, string target, string keyspace, string? table, string change = "CREATED")
        => Respond(stream, CqlOpcode.Result, (ref CqlWriter w) =>
        {
            w.WriteInt((int)CqlResultKind.SchemaChange);
            w.WriteString(change);
            w.WriteString(target);
            w.WriteString(keyspace);
            if (table is not null) w.WriteString(table);
        });

    private PooledFrame PreparedResult(short stream, byte[] id, ParsedStatement s)
        => Respond(stream, CqlOpcode.Result, (ref CqlWriter w) =>
        {
            w.WriteInt((int)CqlResultKind.Prepared);
            w.WriteShortBytes(id);
            int[] pk = s.PartitionKeyIndexes();
            bool global = s.Variables.Count > 0;
            w.WriteInt(global ? (int)RowsFlags.GlobalTablesSpec : 0);
            w.WriteInt(s.Variables.Count);
            w.WriteInt(pk.Length);
            foreach (int i in pk) w.WriteUShort((ushort)i);
            if (global)
            {
                w.WriteString(s.Keyspace);
                w.WriteString(s.Table);
            }
            foreach (var (name, type) in s.Variables)
            {
                w.WriteString(name);
                type.Write(ref w);
            }
            if (s.Kind is StatementKind.Select or StatementKind.SystemLocal or StatementKind.SystemPeers)
            {
                var columns = s.Kind == StatementKind.Select
                    ? s.SelectColumns.Select(c => (c, s.Schema!.TypeOf(c))).ToList()
                    : SystemRows(s, s.Kind == StatementKind.SystemLocal ? TestStatements.LocalColumns : TestStatements.PeerColumns, []).Columns;
                w.WriteInt((int)RowsFlags.GlobalTablesSpec);
                w.WriteInt(columns.Count);
                w.WriteString(s.Keyspace);
                w.WriteString(s.Table);
                foreach (var (name, type) in columns)
                {
                    w.WriteString(name);
                    type.Write(ref w);
                }
            }
            else
            {
                w.WriteInt((int)RowsFlags.NoMetadata);
                w.WriteInt(0);
            }
        });
}
