using ReadStates.Core.Storage;

namespace ReadStates.Storage.RocksDb;

/// <summary>Settings of the embedded RocksDB store. Bound from the <c>Storage:RocksDb</c> configuration section.</summary>
public sealed class RocksDbStoreOptions
{
    /// <summary>Directory of the database; created when missing.</summary>
    public string Path { get; set; } = "./data";

    /// <summary>
    /// True: every write batch is fsynced before the write returns. False (default): written to the WAL
    /// without fsync, so a process crash loses nothing but a machine crash may lose the last writes.
    /// </summary>
    public bool Sync { get; set; }

    /// <summary>RocksDB block cache in MiB (the engine's cache holds the hot users; this one speeds reloads).</summary>
    public int BlockCacheMb { get; set; } = 64;

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Path))
            errors.Add("Path must name a directory.");
        if (BlockCacheMb < 0 || BlockCacheMb > 1 << 20)
            errors.Add($"BlockCacheMb must be between 0 and {1 << 20}; got {BlockCacheMb}.");
        return errors;
    }
}
