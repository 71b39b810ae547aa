using ReadStates.Core.Cache;
using ReadStates.Core.Sync;

namespace ReadStates.Core;

/// <summary>
/// Multi-device sync: sync reads (changes since a version), change subscriptions, conditional writes and
/// the tombstone sweep. docs/sync.md has the client's side of it.
/// </summary>
public sealed partial class ReadStateEngine
{
    private long _lastSweepMs;

    /// <summary>
    /// Copies the user's totals and the states changed and deleted after <paramref name="since"/> (all
    /// channels, or the listed ones) into <paramref name="into"/>, loading the user first when it is not
    /// resident. <see cref="UserSnapshot.Sync"/> says whether the answer is exact or "resync required" (since
    /// below the sync floor). <paramref name="since"/> null reads only the totals and the current version.
    /// Throws <see cref="VersionAheadException"/> when <paramref name="since"/> is above the user's version.
    /// </summary>
    public ValueTask ReadChangesAsync(ulong userId, ulong? since, ReadOnlyMemory<ulong> channelIds, UserSnapshot into, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        ArgumentNullException.ThrowIfNull(into);
        return RunUntyped(userId, new ReadChangesOp(since, channelIds, into), cancellationToken);
    }

    /// <summary>
    /// Registers <paramref name="subscription"/>: from now on every change of its user marks it pending. Cheap
    /// for writers (a dictionary lookup in the user's shard, only in shards with watched users); nothing is
    /// loaded. Pair with <see cref="Unwatch"/>.
    /// </summary>
    public void Watch(ChangeSubscription subscription)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ShardFor(subscription.UserId).Watch(subscription);
    }

    /// <summary>Unregisters <paramref name="subscription"/>; false when it was not registered.</summary>
    public bool Unwatch(ChangeSubscription subscription)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        return ShardFor(subscription.UserId).Unwatch(subscription);
    }

    /// <summary>
    /// <see cref="AckParentAsync(ulong, ulong, ulong, CancellationToken)"/> that applies only while the user's version
    /// is <paramref name="expectedUserVersion"/> (when set); otherwise <see cref="VersionMismatchException"/>, nothing changed.
    /// </summary>
    public ValueTask<int> AckParentAsync(ulong userId, ulong parentId, ulong messageId, ulong? expectedUserVersion, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        ThrowIfBacklogFull();
        return Run<AckParentOp, int>(userId, new AckParentOp(parentId, messageId, expectedUserVersion), cancellationToken);
    }

    /// <summary>
    /// <see cref="AckPinsAsync(ulong, ulong, long, in StateAttributes, CancellationToken)"/> that applies only while the
    /// state's version is <paramref name="expectedVersion"/> (0 = no live state), when set.
    /// </summary>
    public ValueTask<AckResult> AckPinsAsync(ulong userId, ulong channelId, long lastPinTimestamp, in StateAttributes attributes, ulong? expectedVersion,
        CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        CheckId(channelId, nameof(channelId));
        ThrowIfBacklogFull();
        return Run<AckPinsOp, AckResult>(userId, new AckPinsOp(channelId, lastPinTimestamp, attributes, expectedVersion), cancellationToken);
    }

    /// <summary>
    /// Deletes the listed states (or all): each leaves a tombstone with its version for sync reads. Applies only
    /// if every listed state is at its <paramref name="expectedVersions"/> entry (empty = unconditional, otherwise
    /// one per channel; 0 = no live state) and the user at <paramref name="expectedUserVersion"/> (when set).
    /// </summary>
    public ValueTask<int> DeleteAsync(ulong userId, ReadOnlyMemory<ulong> channelIds, bool all, ReadOnlyMemory<ulong> expectedVersions, ulong? expectedUserVersion,
        CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        if (!expectedVersions.IsEmpty && expectedVersions.Length != channelIds.Length)
            throw new ArgumentException("Give one expected version per channel, or none.", nameof(expectedVersions));
        ThrowIfBacklogFull();
        return Run<DeleteOp, int>(userId, new DeleteOp(channelIds, all, expectedVersions, expectedUserVersion), cancellationToken);
    }

    /// <summary>Compacts aged-out tombstones of resident users; runs from the write-behind loop, a few times per retention.</summary>
    private void SweepTombstonesIfDue()
    {
        long now = _shared.NowMs();
        long period = Math.Clamp(_shared.RetentionMs / 8, 100, 60_000);
        if (now - _lastSweepMs < period) return;
        _lastSweepMs = now;
        foreach (var shard in _shards) shard.SweepTombstones(now, _shared.RetentionMs);
    }

    /// <summary>Runs a tombstone sweep now (tests, operators); returns the users whose sync floor rose.</summary>
    public int SweepTombstones()
    {
        long now = _shared.NowMs();
        int users = 0;
        foreach (var shard in _shards) users += shard.SweepTombstones(now, _shared.RetentionMs);
        return users;
    }

    private readonly struct ReadChangesOp(ulong? since, ReadOnlyMemory<ulong> channelIds, UserSnapshot into) : IUserOperation<bool>
    {
        public bool Writes => false;
        public bool TryRun(Shard shard, ulong userId, out bool result) => result = shard.TryReadChanges(userId, since, channelIds.Span, into);
    }
}
