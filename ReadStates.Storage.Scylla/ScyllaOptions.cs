using ReadStates.Cql;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.Scylla;

/// <summary>Settings of the ScyllaDB store (configuration section <c>Scylla</c>). Defaults live here only.</summary>
public sealed class ScyllaOptions
{
    /// <summary>Nodes to bootstrap from: host names or addresses, optionally "host:port".</summary>
    public string[] ContactPoints { get; set; } = ["127.0.0.1"];
    public int Port { get; set; } = 9042;
    public string Keyspace { get; set; } = "readstates";
    /// <summary>Only this datacenter's nodes serve requests; null = the first contact point's datacenter.</summary>
    public string? LocalDatacenter { get; set; }
    public CqlConsistency Consistency { get; set; } = CqlConsistency.LocalQuorum;
    public string? Username { get; set; }
    public string? Password { get; set; }
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Rows per page when loading a user.</summary>
    public int PageSize { get; set; } = 1000;
    /// <summary>Replication factor in the local datacenter when the store creates the keyspace.</summary>
    public int ReplicationFactor { get; set; } = 3;
    /// <summary>Create the keyspace (tablets disabled) and table when missing.</summary>
    public bool CreateSchema { get; set; } = true;
    /// <summary>LZ4 frame compression when the server offers it.</summary>
    public bool Compression { get; set; }
    /// <summary>Use ScyllaDB's shard-aware port when advertised.</summary>
    public bool ShardAware { get; set; } = true;
    /// <summary>Connections per node when the server is not sharded (ScyllaDB gets one per shard).</summary>
    public int ConnectionsPerHost { get; set; } = 2;
    /// <summary>Retries of a failed idempotent request (every store request is idempotent).</summary>
    public int MaxRetries { get; set; } = 3;
    /// <summary>User batches in flight at once during one WriteAsync.</summary>
    public int WriteConcurrency { get; set; } = 32;
    /// <summary>Statements per batch; a user with more dirty states is written as several batches.</summary>
    public int MaxStatementsPerBatch { get; set; } = 100;
    /// <summary>Bound values per batch, in bytes (a batch always takes at least one statement); below ScyllaDB's 128 KiB warning.</summary>
    public int MaxBatchBytes { get; set; } = 96 * 1024;
    /// <summary>TLS to the nodes (off by default).</summary>
    public ScyllaTlsOptions Tls { get; set; } = new();

    /// <summary>Upper bound of both timeouts: longer waits only hide a dead node.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(5);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (ContactPoints is null || ContactPoints.Length == 0 || ContactPoints.Any(string.IsNullOrWhiteSpace))
            errors.Add("ContactPoints must list at least one host.");
        if (Port is < 1 or > 65535) errors.Add($"Port must be 1..65535; got {Port}.");
        if (string.IsNullOrWhiteSpace(Keyspace) || !Keyspace.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') || !char.IsAsciiLetter(Keyspace[0]))
            errors.Add($"Keyspace must be a plain identifier (letters, digits, _); got '{Keyspace}'.");
        if ((Username is null) != (Password is null)) errors.Add("Username and Password must be set together.");
        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > MaxTimeout) errors.Add($"RequestTimeout must be positive and at most 5 minutes; got {RequestTimeout}.");
        if (ConnectTimeout <= TimeSpan.Zero || ConnectTimeout > MaxTimeout) errors.Add($"ConnectTimeout must be positive and at most 5 minutes; got {ConnectTimeout}.");
        if (PageSize < 1) errors.Add($"PageSize must be positive; got {PageSize}.");
        if (ReplicationFactor < 1) errors.Add($"ReplicationFactor must be positive; got {ReplicationFactor}.");
        if (ConnectionsPerHost < 1) errors.Add($"ConnectionsPerHost must be positive; got {ConnectionsPerHost}.");
        if (MaxRetries < 0) errors.Add($"MaxRetries must not be negative; got {MaxRetries}.");
        if (WriteConcurrency < 1) errors.Add($"WriteConcurrency must be positive; got {WriteConcurrency}.");
        if (MaxStatementsPerBatch is < 2 or > 65535) errors.Add($"MaxStatementsPerBatch must be 2..65535; got {MaxStatementsPerBatch}.");
        if (MaxBatchBytes < 1024) errors.Add($"MaxBatchBytes must be at least 1024; got {MaxBatchBytes}.");
        errors.AddRange(Tls.Validate());
        return errors;
    }

    internal CqlClientOptions ToClientOptions() => new()
    {
        ContactPoints = ContactPoints,
        Port = Port,
        LocalDatacenter = LocalDatacenter,
        ConnectionsPerHost = ConnectionsPerHost,
        ShardAwarePort = ShardAware,
        MaxRetries = MaxRetries,
        Connection = new CqlConnectionSettings
        {
            Username = Username,
            Password = Password,
            Compression = Compression,
            RequestTimeout = RequestTimeout,
            ConnectTimeout = ConnectTimeout,
            Tls = Tls.ToSettings([]),
        },
    };
}
