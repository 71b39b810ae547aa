namespace ReadStates.Core.Storage;

/// <summary>
/// The durable home of read states. The engine loads one user at a time and writes coalesced batches
/// of dirty users. Implementations: RocksDB (embedded) and ScyllaDB (CQL).
/// </summary>
public interface IReadStateStore : IAsyncDisposable
{
    string Name { get; }

    /// <summary>
    /// Appends the user's stored states, sorted by channel id (tombstones above the sync floor included,
    /// with their version and <see cref="ReadState.DeletedAt"/>), the user's version and sync floor to <paramref name="into"/>.
    /// </summary>
    Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken);

    /// <summary>
    /// Writes every user of the batch: upserts; tombstones above the user's <see cref="UserEntry.SyncFloor"/> as
    /// tombstone rows (version and deletion time), at or below it as physical deletes; the version and floor in
    /// the meta row. Must be idempotent (retried on failure).
    /// </summary>
    Task WriteAsync(StateBatch batch, CancellationToken cancellationToken);
}
