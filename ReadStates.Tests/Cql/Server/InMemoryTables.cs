using System.Buffers.Binary;
using ReadStates.Cql;

namespace ReadStates.Tests.Cql.Server;

/// <summary>A table schema known to the test server (from CREATE TABLE or built in).</summary>
internal sealed class TableSchema
{
    public required string Keyspace { get; init; }
    public required string Name { get; init; }
    public required List<(string Name, CqlType Type)> Columns { get; init; }
    public required string[] PartitionKey { get; init; }
    public required string[] ClusteringKey { get; init; }

    public CqlType TypeOf(string column)
    {
        foreach (var c in Columns)
            if (c.Name == column) return c.Type;
        throw new TestServerException(CqlErrorCode.Invalid, $"Undefined column name {column} in table {Keyspace}.{Name}");
    }

    public bool Has(string column) => Columns.Exists(c => c.Name == column);
}

internal sealed class TestServerException(CqlErrorCode code, string message) : Exception(message)
{
    public CqlErrorCode Code { get; } = code;
    public byte[]? UnpreparedId { get; init; }
}

/// <summary>
/// Tables in memory with Cassandra's last-write-wins rules: every cell carries its write timestamp, row
/// deletions leave a tombstone, and a write older than what it would overwrite is ignored. One instance
/// can back several test servers (nodes of one cluster).
/// </summary>
internal sealed class InMemoryTables
{
    private readonly Dictionary<string, TableSchema> _schemas = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, Partition>> _data = new(StringComparer.Ordinal);
    private readonly HashSet<string> _keyspaces = new(StringComparer.Ordinal);

    public object Sync { get; } = new();

    public sealed class Cell
    {
        public byte[]? Value;
        public long Timestamp;
    }

    public sealed class Row
    {
        public required byte[][] Clustering;
        public long MarkerTimestamp = long.MinValue;
        public long TombstoneTimestamp = long.MinValue;
        public Dictionary<string, Cell> Cells { get; } = new(StringComparer.Ordinal);
        public bool IsLive => MarkerTimestamp > TombstoneTimestamp || Cells.Values.Any(c => c.Value is not null);
    }

    public sealed class Partition
    {
        public required byte[][] Key;
        public long TombstoneTimestamp = long.MinValue;
        public List<Row> Rows { get; } = [];
    }

    public bool CreateKeyspace(string name)
    {
        lock (Sync) return _keyspaces.Add(name);
    }

    public bool HasKeyspace(string name)
    {
        lock (Sync) return _keyspaces.Contains(name);
    }

    public bool CreateTable(TableSchema schema)
    {
        lock (Sync)
        {
            string key = schema.Keyspace + "." + schema.Name;
            if (_schemas.ContainsKey(key)) return false;
            _schemas[key] = schema;
            _data[key] = new Dictionary<string, Partition>(StringComparer.Ordinal);
            return true;
        }
    }

    /// <summary>ALTER TABLE … ADD; false when the column exists (rows keep their cells: the new one is simply absent).</summary>
    public bool AddColumn(TableSchema schema, string name, CqlType type)
    {
        lock (Sync)
        {
            if (schema.Has(name)) return false;
            schema.Columns.Add((name, type));
            return true;
        }
    }

    public TableSchema? Schema(string keyspace, string table)
    {
        lock (Sync) return _schemas.GetValueOrDefault(keyspace + "." + table);
    }

    private static string KeyOf(byte[][] key) => string.Join("|", key.Select(Convert.ToHexString));

    private Partition GetPartition(TableSchema t, byte[][] pk, bool create)
    {
        var table = _data[t.Keyspace + "." + t.Name];
        string k = KeyOf(pk);
        if (!table.TryGetValue(k, out var p) && create) table[k] = p = new Partition { Key = pk };
        return p!;
    }

    private static int CompareClustering(TableSchema t, byte[][] a, byte[][] b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            int c = Compare(t.TypeOf(t.ClusteringKey[i]), a[i], b[i]);
            if (c != 0) return c;
        }
        return 0;
    }

    public static int Compare(CqlType type, byte[] a, byte[] b) => type.Code switch
    {
        CqlTypeCode.Bigint or CqlTypeCode.Timestamp => BinaryPrimitives.ReadInt64BigEndian(a).CompareTo(BinaryPrimitives.ReadInt64BigEndian(b)),
        CqlTypeCode.Int => BinaryPrimitives.ReadInt32BigEndian(a).CompareTo(BinaryPrimitives.ReadInt32BigEndian(b)),
        CqlTypeCode.Tinyint => ((sbyte)a[0]).CompareTo((sbyte)b[0]),
        _ => a.AsSpan().SequenceCompareTo(b),
    };

    private static Row GetRow(TableSchema t, Partition p, byte[][] ck)
    {
        int lo = 0, hi = p.Rows.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            int c = CompareClustering(t, p.Rows[mid].Clustering, ck);
            if (c == 0) return p.Rows[mid];
            if (c < 0) lo = mid + 1;
            else hi = mid - 1;
        }
        var row = new Row { Clustering = ck };
        p.Rows.Insert(lo, row);
        return row;
    }

    /// <summary>INSERT (withMarker) or UPDATE: cells given as value (null = delete the cell); unset columns are absent.</summary>
    public void Write(TableSchema t, byte[][] pk, byte[][] ck, IEnumerable<KeyValuePair<string, byte[]?>> cells, long timestamp, bool withMarker)
    {
        lock (Sync)
        {
            var p = GetPartition(t, pk, create: true);
            if (timestamp <= p.TombstoneTimestamp) return;
            var row = GetRow(t, p, ck);
            if (timestamp <= row.TombstoneTimestamp) return;
            if (withMarker && timestamp >= row.MarkerTimestamp) row.MarkerTimestamp = timestamp;
            foreach (var (name, value) in cells)
            {
                if (!row.Cells.TryGetValue(name, out var cell)) row.Cells[name] = cell = new Cell { Timestamp = long.MinValue };
                if (timestamp >= cell.Timestamp)
                {
                    cell.Value = value;
                    cell.Timestamp = timestamp;
                }
            }
        }
    }

    public void DeleteRow(TableSchema t, byte[][] pk, byte[][] ck, long timestamp)
    {
        lock (Sync)
        {
            var p = GetPartition(t, pk, create: true);
            var row = GetRow(t, p, ck);
            row.TombstoneTimestamp = Math.Max(row.TombstoneTimestamp, timestamp);
            foreach (var name in row.Cells.Where(c => c.Value.Timestamp <= timestamp).Select(c => c.Key).ToList()) row.Cells.Remove(name);
            if (row.MarkerTimestamp <= timestamp) row.MarkerTimestamp = long.MinValue;
        }
    }

    public void DeletePartition(TableSchema t, byte[][] pk, long timestamp)
    {
        lock (Sync)
        {
            var p = GetPartition(t, pk, create: true);
            p.TombstoneTimestamp = Math.Max(p.TombstoneTimestamp, timestamp);
            foreach (var row in p.Rows) row.TombstoneTimestamp = Math.Max(row.TombstoneTimestamp, timestamp);
            foreach (var row in p.Rows)
            {
                foreach (var name in row.Cells.Where(c => c.Value.Timestamp <= timestamp).Select(c => c.Key).ToList()) row.Cells.Remove(name);
                if (row.MarkerTimestamp <= timestamp) row.MarkerTimestamp = long.MinValue;
            }
        }
    }

    /// <summary>Live rows of a partition (optionally one clustering row), in clustering order, as column → value.</summary>
    public List<Dictionary<string, byte[]?>> Read(TableSchema t, byte[][] pk, byte[][]? ck)
    {
        lock (Sync)
        {
            var result = new List<Dictionary<string, byte[]?>>();
            var p = GetPartition(t, pk, create: false);
            if (p is null) return result;
            foreach (var row in p.Rows)
            {
                if (!row.IsLive) continue;
                if (ck is not null && CompareClustering(t, row.Clustering, ck) != 0) continue;
                var values = new Dictionary<string, byte[]?>(StringComparer.Ordinal);
                for (int i = 0; i < t.PartitionKey.Length; i++) values[t.PartitionKey[i]] = pk[i];
                for (int i = 0; i < t.ClusteringKey.Length; i++) values[t.ClusteringKey[i]] = row.Clustering[i];
                foreach (var (name, cell) in row.Cells) values[name] = cell.Value;
                result.Add(values);
            }
            return result;
        }
    }

    /// <summary>Cells written as null (cell tombstones) in a table.</summary>
    public int CountNullCells(string keyspace, string table)
    {
        lock (Sync)
        {
            if (!_data.TryGetValue(keyspace + "." + table, out var parts)) return 0;
            return parts.Values.Sum(p => p.Rows.Sum(r => r.Cells.Values.Count(c => c.Value is null)));
        }
    }

    /// <summary>Every live row of a table (test assertions).</summary>
    public int CountRows(string keyspace, string table)
    {
        lock (Sync)
        {
            if (!_data.TryGetValue(keyspace + "." + table, out var parts)) return 0;
            return parts.Values.Sum(p => p.Rows.Count(r => r.IsLive));
        }
    }
}
