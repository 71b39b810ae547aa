namespace ReadStates.Core.Storage;

/// <summary>
/// The durable home of read states. The engine loads one user at a time and writes coalesced batches
/// of dirty users. Implementations: RocksDB (embedded) and ScyllaDB (CQL).
/// </summary>
public interface IReadStateStore : IAsyncDisposable
{
    string Name { get; }

    /// <summary>Appends the user's stored states, sorted by channel id, and the user's version to <paramref name="into"/>.</summary>
    Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken);

    /// <summary>Writes every user of the batch: upserts, and deletes for tombstones. Must be idempotent (retried on failure).</summary>
    Task WriteAsync(StateBatch batch, CancellationToken cancellationToken);
}
