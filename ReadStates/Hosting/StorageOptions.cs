using ReadStates.Storage.RocksDb;

namespace ReadStates.Hosting;

/// <summary>Which durable store backs the engine. Bound from the <c>Storage</c> configuration section.</summary>
public sealed class StorageOptions
{
    public const string RocksDbKind = "rocksdb";
    public const string ScyllaKind = "scylla";

    /// <summary>
    /// The store: <c>rocksdb</c> (embedded, the default) or <c>scylla</c> (ScyllaDB or Cassandra, settings in
    /// the <c>Scylla</c> section).
    /// </summary>
    public string Kind { get; set; } = RocksDbKind;

    public RocksDbStoreOptions RocksDb { get; set; } = new();

    public bool IsRocksDb => IsKind(Kind, RocksDbKind);

    public bool IsScylla => IsKind(Kind, ScyllaKind);

    public static bool IsKind(string? kind, string expected) => string.Equals(kind?.Trim(), expected, StringComparison.OrdinalIgnoreCase);

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (IsRocksDb)
            errors.AddRange(RocksDb.Validate().Select(e => "RocksDb:" + e));
        else if (!IsScylla)
            errors.Add($"Kind must be '{RocksDbKind}' or '{ScyllaKind}'; got '{Kind}'.");
        return errors;
    }
}
