namespace ReadStates.Cql;

/// <summary>Frozen per-connection settings.</summary>
public sealed record CqlConnectionSettings
{
    public string? Username { get; init; }
    public string? Password { get; init; }
    /// <summary>Ask for LZ4 frame compression when the server offers it.</summary>
    public bool Compression { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Stream ids (concurrent requests) per connection; v4 allows up to 32768.</summary>
    public int MaxRequestsPerConnection { get; init; } = 1024;
    /// <summary>An idle connection sends OPTIONS this often, so a silently dead peer is noticed; zero = never.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Connection is closed when this many abandoned (timed-out) requests still hold stream ids.</summary>
    public int MaxAbandonedRequests { get; init; } = 256;
    /// <summary>TLS on every connection; null = plain TCP.</summary>
    public CqlTlsSettings? Tls { get; init; }
}

/// <summary>What the server told in SUPPORTED, including ScyllaDB's sharding keys.</summary>
internal sealed record CqlServerInfo(IReadOnlyDictionary<string, List<string>> Supported)
{
    private string? One(string key) => Supported.TryGetValue(key, out var v) && v.Count > 0 ? v[0] : null;
    private int? Int(string key) => int.TryParse(One(key), System.Globalization.CultureInfo.InvariantCulture, out int v) ? v : null;

    public bool SupportsLz4 => Supported.TryGetValue("COMPRESSION", out var c) && c.Contains("lz4");
    /// <summary>The shard this connection landed on (ScyllaDB), else null.</summary>
    public int? Shard => Int("SCYLLA_SHARD");
    public int ShardCount => Int("SCYLLA_NR_SHARDS") ?? 1;
    public int ShardingIgnoreMsb => Int("SCYLLA_SHARDING_IGNORE_MSB") ?? 0;
    public int? ShardAwarePort => Int("SCYLLA_SHARD_AWARE_PORT");
    /// <summary>The shard-aware port that speaks TLS (the plain one does not).</summary>
    public int? ShardAwarePortSsl => Int("SCYLLA_SHARD_AWARE_PORT_SSL");
    public int? ShardAwarePortFor(bool tls) => tls ? ShardAwarePortSsl : ShardAwarePort;
    public string? ShardingAlgorithm => One("SCYLLA_SHARDING_ALGORITHM");
    public bool IsScylla => Shard is not null && ShardCount > 0;
}
