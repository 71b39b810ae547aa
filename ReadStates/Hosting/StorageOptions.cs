using ReadStates.Storage.RocksDb;

namespace ReadStates.Hosting;

/// <summary>Which durable store backs the engine. Bound from the <c>Storage</c> configuration section.</summary>
public sealed class StorageOptions
{
    public const string RocksDbKind = "rocksdb";

    /// <summary>The store: <c>rocksdb</c> (embedded, the default). <c>scylla</c> is not part of this build yet.</summary>
    public string Kind { get; set; } = RocksDbKind;

    public RocksDbStoreOptions RocksDb { get; set; } = new();

    public bool IsRocksDb => string.Equals(Kind, RocksDbKind, StringComparison.OrdinalIgnoreCase);

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!IsRocksDb)
            errors.Add($"Storage:Kind '{Kind}' is not supported by this build; use '{RocksDbKind}'.");
        else
            errors.AddRange(RocksDb.Validate());
        return errors;
    }
}
