namespace ReadStates.Cql;

/// <summary>Frozen settings of a <see cref="CqlSession"/>.</summary>
public sealed record CqlClientOptions
{
    /// <summary>Host names or addresses to bootstrap from (each optionally "host:port").</summary>
    public IReadOnlyList<string> ContactPoints { get; init; } = ["127.0.0.1"];
    public int Port { get; init; } = 9042;
    /// <summary>Only hosts of this datacenter serve requests; null = the contact point's datacenter.</summary>
    public string? LocalDatacenter { get; init; }
    public CqlConnectionSettings Connection { get; init; } = new();
    /// <summary>Connections per host when the server is not sharded (per shard, ScyllaDB gets one each).</summary>
    public int ConnectionsPerHost { get; init; } = 2;
    /// <summary>Route to ScyllaDB's shard-aware port when advertised.</summary>
    public bool ShardAwarePort { get; init; } = true;
    /// <summary>Attempts after the first for idempotent requests (and for errors that prove nothing was applied).</summary>
    public int MaxRetries { get; init; } = 3;
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(20);
    public TimeSpan ReconnectBaseDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How often system.local/system.peers are re-read (nodes joining or leaving); zero = never.</summary>
    public TimeSpan TopologyRefreshInterval { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>Per-request settings.</summary>
public struct CqlRequestOptions
{
    public CqlConsistency Consistency;
    /// <summary>Safe to send twice (e.g. a write with a client timestamp): retried on timeouts and lost connections.</summary>
    public bool Idempotent;
    public int PageSize;
    public byte[]? PagingState;
    /// <summary>Client-side write time (Unix µs); null = the coordinator's clock.</summary>
    public long? Timestamp;
    /// <summary>Per-attempt timeout; null = the connection settings' RequestTimeout.</summary>
    public TimeSpan? Timeout;

    public static CqlRequestOptions Default(CqlConsistency consistency = CqlConsistency.LocalQuorum) => new() { Consistency = consistency };
}
