using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ReadStates.Cql;

namespace ReadStates.Tests.Cql.Server;

internal enum StatementKind { Select, Insert, Update, Delete, CreateKeyspace, CreateTable, AlterTableAdd, Use, SystemLocal, SystemPeers, SystemEmpty }

/// <summary>A value in a statement: a bind marker (index among the markers) or a literal.</summary>
internal readonly record struct Term(int Marker, string? Literal)
{
    public bool IsMarker => Marker >= 0;
}

internal sealed class ParsedStatement
{
    public required StatementKind Kind { get; init; }
    public required string Query { get; init; }
    public string Keyspace { get; init; } = "";
    public string Table { get; init; } = "";
    public TableSchema? Schema { get; init; }
    public List<(string Column, Term Term)> Assignments { get; } = [];
    public List<(string Column, Term Term)> Where { get; } = [];
    public string[] SelectColumns { get; init; } = [];
    public int? Limit { get; init; }
    public Term? UsingTimestamp { get; set; }
    public bool IfNotExists { get; init; }
    public TableSchema? NewTable { get; init; }
    /// <summary>ALTER TABLE … ADD: the new column.</summary>
    public (string Name, CqlType Type)? NewColumn { get; init; }
    public List<(string Name, CqlType Type)> Variables { get; } = [];

    /// <summary>Indexes among <see cref="Variables"/> of the partition key columns (empty when not all are bound).</summary>
    public int[] PartitionKeyIndexes()
    {
        if (Schema is null) return [];
        var result = new int[Schema.PartitionKey.Length];
        for (int i = 0; i < result.Length; i++)
        {
            int found = -1;
            foreach (var (col, term) in Kind == StatementKind.Insert ? Assignments : Where)
                if (col == Schema.PartitionKey[i] && term.IsMarker) found = term.Marker;
            if (found < 0) return [];
            result[i] = found;
        }
        return result;
    }
}

/// <summary>Parses the handful of CQL shapes the store and the driver checks use (regexes, not a grammar).</summary>
internal static partial class TestStatements
{
    private static readonly CqlType TextSet = CqlType.SetOf(CqlType.Varchar);

    public static readonly List<(string, CqlType)> LocalColumns =
    [
        ("key", CqlType.Varchar), ("bootstrapped", CqlType.Varchar), ("broadcast_address", CqlType.Inet), ("cluster_name", CqlType.Varchar),
        ("cql_version", CqlType.Varchar), ("data_center", CqlType.Varchar), ("host_id", CqlType.Uuid), ("listen_address", CqlType.Inet),
        ("native_protocol_version", CqlType.Varchar), ("partitioner", CqlType.Varchar), ("rack", CqlType.Varchar),
        ("release_version", CqlType.Varchar), ("rpc_address", CqlType.Inet), ("schema_version", CqlType.Uuid), ("tokens", TextSet),
    ];

    public static readonly List<(string, CqlType)> PeerColumns =
    [
        ("peer", CqlType.Inet), ("data_center", CqlType.Varchar), ("host_id", CqlType.Uuid), ("preferred_ip", CqlType.Inet),
        ("rack", CqlType.Varchar), ("release_version", CqlType.Varchar), ("rpc_address", CqlType.Inet), ("schema_version", CqlType.Uuid),
        ("tokens", TextSet),
    ];

    [GeneratedRegex(@"^\s*SELECT\s+(?<cols>.+?)\s+FROM\s+(?<table>[\w.""]+)(?:\s+WHERE\s+(?<where>.+?))?(?:\s+LIMIT\s+(?<limit>\d+))?(?:\s+ALLOW FILTERING)?\s*;?\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex SelectRe();

    [GeneratedRegex(@"^\s*INSERT\s+INTO\s+(?<table>[\w.""]+)\s*\((?<cols>[^)]*)\)\s*VALUES\s*\((?<vals>[^)]*)\)(?:\s+USING\s+TIMESTAMP\s+(?<ts>\?|-?\d+))?\s*;?\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex InsertRe();

    [GeneratedRegex(@"^\s*UPDATE\s+(?<table>[\w.""]+)(?:\s+USING\s+TIMESTAMP\s+(?<ts>\?|-?\d+))?\s+SET\s+(?<set>.+?)\s+WHERE\s+(?<where>.+?)\s*;?\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex UpdateRe();

    [GeneratedRegex(@"^\s*DELETE\s+FROM\s+(?<table>[\w.""]+)(?:\s+USING\s+TIMESTAMP\s+(?<ts>\?|-?\d+))?\s+WHERE\s+(?<where>.+?)\s*;?\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex DeleteRe();

    [GeneratedRegex(@"^\s*CREATE\s+KEYSPACE\s+(?<ine>IF\s+NOT\s+EXISTS\s+)?(?<name>\w+)\s+WITH\s+", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex CreateKeyspaceRe();

    [GeneratedRegex(@"^\s*CREATE\s+TABLE\s+(?<ine>IF\s+NOT\s+EXISTS\s+)?(?<table>[\w.]+)\s*\((?<body>.*)\)(?:\s+WITH\s+.*)?\s*;?\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex CreateTableRe();

    [GeneratedRegex(@"^\s*ALTER\s+TABLE\s+(?<table>[\w.]+)\s+ADD\s+(?<col>\w+)\s+(?<type>\w+)\s*;?\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex AlterTableAddRe();

    [GeneratedRegex(@"^\s*USE\s+""?(?<name>\w+)""?\s*;?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex UseRe();

    [GeneratedRegex(@"PRIMARY\s+KEY\s*\((?<pk>.*)\)\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex PrimaryKeyRe();

    public static ParsedStatement Parse(string query, string? currentKeyspace, InMemoryTables tables)
    {
        Match m;
        if ((m = SelectRe().Match(query)).Success)
        {
            var (ks, table) = SplitTable(m.Groups["table"].Value, currentKeyspace);
            string[] cols = m.Groups["cols"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Ident).ToArray();
            int? limit = m.Groups["limit"].Success ? int.Parse(m.Groups["limit"].Value, CultureInfo.InvariantCulture) : null;
            if (ks == "system" && table == "local")
                return new ParsedStatement { Kind = StatementKind.SystemLocal, Query = query, Keyspace = ks, Table = table, SelectColumns = cols };
            if (ks == "system" && table == "peers")
                return new ParsedStatement { Kind = StatementKind.SystemPeers, Query = query, Keyspace = ks, Table = table, SelectColumns = cols };
            if (ks == "system" && table == "peers_v2")
                throw new TestServerException(CqlErrorCode.Invalid, "unconfigured table peers_v2");
            if (ks is "system_schema" or "system" or "system_distributed" or "system_traces")
                return new ParsedStatement { Kind = StatementKind.SystemEmpty, Query = query, Keyspace = ks, Table = table, SelectColumns = cols };
            var schema = RequireTable(tables, ks, table);
            var s = new ParsedStatement
            {
                Kind = StatementKind.Select, Query = query, Keyspace = ks, Table = table, Schema = schema, Limit = limit,
                SelectColumns = cols.Length == 1 && cols[0] == "*" ? schema.Columns.Select(c => c.Name).ToArray() : cols,
            };
            foreach (var c in s.SelectColumns) schema.TypeOf(c);
            ParseWhere(s, m.Groups["where"].Value);
            return s;
        }
        if ((m = InsertRe().Match(query)).Success)
        {
            var (ks, table) = SplitTable(m.Groups["table"].Value, currentKeyspace);
            var schema = RequireTable(tables, ks, table);
            var s = new ParsedStatement { Kind = StatementKind.Insert, Query = query, Keyspace = ks, Table = table, Schema = schema };
            string[] cols = m.Groups["cols"].Value.Split(',', StringSplitOptions.TrimEntries).Select(Ident).ToArray();
            string[] vals = SplitValues(m.Groups["vals"].Value);
            if (cols.Length != vals.Length) throw new TestServerException(CqlErrorCode.Invalid, "Unmatched column names/values");
            for (int i = 0; i < cols.Length; i++) s.Assignments.Add((cols[i], TermOf(s, cols[i], vals[i])));
            if (m.Groups["ts"].Success) s.UsingTimestamp = TermOf(s, "[timestamp]", m.Groups["ts"].Value);
            return s;
        }
        if ((m = UpdateRe().Match(query)).Success)
        {
            var (ks, table) = SplitTable(m.Groups["table"].Value, currentKeyspace);
            var schema = RequireTable(tables, ks, table);
            var s = new ParsedStatement { Kind = StatementKind.Update, Query = query, Keyspace = ks, Table = table, Schema = schema };
            if (m.Groups["ts"].Success) s.UsingTimestamp = TermOf(s, "[timestamp]", m.Groups["ts"].Value);
            foreach (var assignment in SplitValues(m.Groups["set"].Value))
            {
                var parts = assignment.Split('=', 2, StringSplitOptions.TrimEntries);
                s.Assignments.Add((Ident(parts[0]), TermOf(s, Ident(parts[0]), parts[1])));
            }
            ParseWhere(s, m.Groups["where"].Value);
            return s;
        }
        if ((m = DeleteRe().Match(query)).Success)
        {
            var (ks, table) = SplitTable(m.Groups["table"].Value, currentKeyspace);
            var schema = RequireTable(tables, ks, table);
            var s = new ParsedStatement { Kind = StatementKind.Delete, Query = query, Keyspace = ks, Table = table, Schema = schema };
            if (m.Groups["ts"].Success) s.UsingTimestamp = TermOf(s, "[timestamp]", m.Groups["ts"].Value);
            ParseWhere(s, m.Groups["where"].Value);
            return s;
        }
        if ((m = CreateKeyspaceRe().Match(query)).Success)
            return new ParsedStatement { Kind = StatementKind.CreateKeyspace, Query = query, Keyspace = Ident(m.Groups["name"].Value), IfNotExists = m.Groups["ine"].Success };
        if ((m = CreateTableRe().Match(query)).Success)
        {
            var (ks, table) = SplitTable(m.Groups["table"].Value, currentKeyspace);
            if (!tables.HasKeyspace(ks)) throw new TestServerException(CqlErrorCode.Invalid, $"Keyspace {ks} does not exist");
            return new ParsedStatement
            {
                Kind = StatementKind.CreateTable, Query = query, Keyspace = ks, Table = table, IfNotExists = m.Groups["ine"].Success,
                NewTable = ParseTable(ks, table, m.Groups["body"].Value),
            };
        }
        if ((m = AlterTableAddRe().Match(query)).Success)
        {
            var (ks, table) = SplitTable(m.Groups["table"].Value, currentKeyspace);
            var schema = RequireTable(tables, ks, table);
            return new ParsedStatement
            {
                Kind = StatementKind.AlterTableAdd, Query = query, Keyspace = ks, Table = table, Schema = schema,
                NewColumn = (Ident(m.Groups["col"].Value), TypeOf(m.Groups["type"].Value)),
            };
        }
        if ((m = UseRe().Match(query)).Success)
        {
            string ks = Ident(m.Groups["name"].Value);
            if (!tables.HasKeyspace(ks) && ks != "system") throw new TestServerException(CqlErrorCode.Invalid, $"Keyspace '{ks}' does not exist");
            return new ParsedStatement { Kind = StatementKind.Use, Query = query, Keyspace = ks };
        }
        throw new TestServerException(CqlErrorCode.SyntaxError, $"test server cannot parse: {query}");
    }

    private static string Ident(string s) => s.Trim().Trim('"').ToLowerInvariant();

    private static (string Keyspace, string Table) SplitTable(string name, string? currentKeyspace)
    {
        var parts = name.Split('.');
        if (parts.Length == 2) return (Ident(parts[0]), Ident(parts[1]));
        if (currentKeyspace is null) throw new TestServerException(CqlErrorCode.Invalid, "No keyspace has been specified.");
        return (currentKeyspace, Ident(parts[0]));
    }

    private static TableSchema RequireTable(InMemoryTables tables, string ks, string table)
        => tables.Schema(ks, table) ?? throw new TestServerException(CqlErrorCode.Invalid, $"unconfigured table {table}");

    private static string[] SplitValues(string s)
    {
        var result = new List<string>();
        var current = new StringBuilder();
        bool quoted = false;
        foreach (char c in s)
        {
            if (c == '\'') quoted = !quoted;
            if (c == ',' && !quoted)
            {
                result.Add(current.ToString().Trim());
                current.Clear();
            }
            else current.Append(c);
        }
        result.Add(current.ToString().Trim());
        return [.. result];
    }

    private static Term TermOf(ParsedStatement s, string column, string text)
    {
        text = text.Trim();
        if (text == "?")
        {
            var type = column == "[timestamp]" ? CqlType.Bigint : s.Schema!.TypeOf(column);
            s.Variables.Add((column, type));
            return new Term(s.Variables.Count - 1, null);
        }
        return new Term(-1, text);
    }

    private static void ParseWhere(ParsedStatement s, string where)
    {
        if (string.IsNullOrWhiteSpace(where)) return;
        foreach (var clause in Regex.Split(where, @"\s+AND\s+", RegexOptions.IgnoreCase))
        {
            var parts = clause.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2) throw new TestServerException(CqlErrorCode.SyntaxError, $"test server only supports '=' relations: {clause}");
            string col = Ident(parts[0]);
            s.Where.Add((col, s.Schema is null ? new Term(-1, parts[1]) : TermOf(s, col, parts[1])));
        }
    }

    private static TableSchema ParseTable(string ks, string table, string body)
    {
        var pkMatch = PrimaryKeyRe().Match(body.Trim());
        string[] defs = SplitTopLevel(pkMatch.Success ? body.Trim()[..pkMatch.Index] : body);
        var columns = new List<(string, CqlType)>();
        string[] pk = [], ck = [];
        foreach (var def in defs)
        {
            if (def.Length == 0) continue;
            var parts = def.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string name = Ident(parts[0]);
            string type = parts[1];
            if (type.EndsWith("PRIMARY KEY", StringComparison.OrdinalIgnoreCase))
            {
                type = type[..^"PRIMARY KEY".Length].Trim();
                pk = [name];
            }
            columns.Add((name, TypeOf(type)));
        }
        if (pkMatch.Success)
        {
            string spec = pkMatch.Groups["pk"].Value.Trim();
            if (spec.StartsWith('('))
            {
                int close = spec.IndexOf(')', StringComparison.Ordinal);
                pk = spec[1..close].Split(',', StringSplitOptions.TrimEntries).Select(Ident).ToArray();
                ck = spec[(close + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Ident).ToArray();
            }
            else
            {
                var all = spec.Split(',', StringSplitOptions.TrimEntries).Select(Ident).ToArray();
                pk = [all[0]];
                ck = all[1..];
            }
        }
        return new TableSchema { Keyspace = ks, Name = table, Columns = columns, PartitionKey = pk, ClusteringKey = ck };
    }

    private static string[] SplitTopLevel(string s)
    {
        var result = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] is '(' or '<') depth++;
            else if (s[i] is ')' or '>') depth--;
            else if (s[i] == ',' && depth == 0)
            {
                result.Add(s[start..i].Trim());
                start = i + 1;
            }
        }
        result.Add(s[start..].Trim());
        return [.. result];
    }

    public static CqlType TypeOf(string name) => name.Trim().ToLowerInvariant() switch
    {
        "bigint" => CqlType.Bigint,
        "int" => CqlType.Int,
        "tinyint" => CqlType.Tinyint,
        "blob" => CqlType.Blob,
        "boolean" => CqlType.Boolean,
        "timestamp" => CqlType.Timestamp,
        "text" or "varchar" => CqlType.Varchar,
        "uuid" => CqlType.Uuid,
        "inet" => CqlType.Inet,
        "set<text>" or "set<varchar>" => CqlType.SetOf(CqlType.Varchar),
        var other => throw new TestServerException(CqlErrorCode.Invalid, $"test server does not support type {other}"),
    };

    /// <summary>Encodes a literal of the statement text for a column type.</summary>
    public static byte[]? Literal(string text, CqlType type)
    {
        if (text.Equals("null", StringComparison.OrdinalIgnoreCase)) return null;
        if (text.StartsWith('\'')) return Encoding.UTF8.GetBytes(text[1..^1].Replace("''", "'", StringComparison.Ordinal));
        switch (type.Code)
        {
            case CqlTypeCode.Bigint:
            case CqlTypeCode.Timestamp:
            {
                var b = new byte[8];
                BinaryPrimitives.WriteInt64BigEndian(b, long.Parse(text, CultureInfo.InvariantCulture));
                return b;
            }
            case CqlTypeCode.Int:
            {
                var b = new byte[4];
                BinaryPrimitives.WriteInt32BigEndian(b, int.Parse(text, CultureInfo.InvariantCulture));
                return b;
            }
            case CqlTypeCode.Tinyint:
                return [(byte)sbyte.Parse(text, CultureInfo.InvariantCulture)];
            case CqlTypeCode.Boolean:
                return [text.Equals("true", StringComparison.OrdinalIgnoreCase) ? (byte)1 : (byte)0];
            case CqlTypeCode.Blob:
                return Convert.FromHexString(text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text);
            default:
                throw new TestServerException(CqlErrorCode.Invalid, $"cannot parse literal {text}");
        }
    }
}
