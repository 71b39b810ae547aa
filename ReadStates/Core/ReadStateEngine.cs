using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ReadStates.Core.Cache;
using ReadStates.Storage;

namespace ReadStates.Core;

/// <summary>
/// The read-state engine: routes each user to a cache shard, serves resident users synchronously
/// (no allocation), loads misses from the store (one shared load per user), and writes changes
/// behind in coalesced batches.
/// </summary>
public sealed partial class ReadStateEngine : IAsyncDisposable
{
    private const int MaxLoadAttempts = 8;

    private readonly Shard[] _shards;
    private readonly int _shardShift;
    private readonly EngineShared _shared;
    private readonly TimeProvider _time;

    public ReadStateEngine(EngineOptions options, IReadStateStore store, ILogger<ReadStateEngine>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join(" ", errors), nameof(options));
        Options = options;
        _time = timeProvider ?? TimeProvider.System;
        _shared = new EngineShared(options, store, (ILogger?)logger ?? NullLogger.Instance) { WakeFlusher = WakeFlusher };
        int shards = options.EffectiveShards;
        _shardShift = 64 - System.Numerics.BitOperations.Log2((uint)shards);
        _shards = new Shard[shards];
        for (int i = 0; i < shards; i++) _shards[i] = new Shard(_shared, options.CapacityStates / shards);
    }

    public EngineOptions Options { get; }

    private Shard ShardFor(ulong userId)
    {
        if (_shards.Length == 1) return _shards[0];
        // A different mix from the user index's, so a shard's users still spread over its index.
        ulong h = userId ^ (userId >> 33);
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        return _shards[(int)(h >> _shardShift)];
    }

    /// <summary>Zero is never an id, and channel 0 is where stores keep the per-user meta row.</summary>
    private static void CheckId(ulong id, string name)
    {
        if (id == 0) ThrowZeroId(name);
    }

    private static void ThrowZeroId(string name) => throw new ArgumentOutOfRangeException(name, "Ids must not be zero.");

    private void ThrowIfBacklogFull()
    {
        if (_shared.Backlog <= Options.MaxBacklogStates) return;
        ThrowBacklogFull();
    }

    private void ThrowBacklogFull() => throw (_shared.StoreHealthy
        ? new BackpressureException(false, "The write-behind backlog is full; retry shortly.")
        : new BackpressureException(true, $"The {_shared.Store.Name} store is failing and the write-behind backlog is full."));

    private static Exception Thrashing(ulong userId) =>
        new BackpressureException(false, $"User {userId} was evicted before it could be used; the cache is too small for the load.");

    // ---- writes ----------------------------------------------------------------------------------

    public ValueTask<AckResult> AckAsync(ulong userId, in AckCommand command, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        CheckId(command.ChannelId, "channelId");
        ThrowIfBacklogFull();
        var shard = ShardFor(userId);
        if (shard.TryAck(userId, command, out var result)) return new(result);
        return AckSlowAsync(shard, userId, command, cancellationToken);
    }

    private static async ValueTask<AckResult> AckSlowAsync(Shard shard, ulong userId, AckCommand command, CancellationToken ct)
    {
        for (int attempt = 0; attempt < MaxLoadAttempts; attempt++)
        {
            await shard.LoadAsync(userId, ct).ConfigureAwait(false);
            if (shard.TryAck(userId, command, out var result)) return result;
        }
        throw Thrashing(userId);
    }

    public ValueTask BulkAckAsync(ulong userId, ReadOnlyMemory<AckCommand> commands, Memory<AckResult> results, CancellationToken cancellationToken = default)
    {
        if (results.Length < commands.Length) throw new ArgumentException("One result per command is needed.", nameof(results));
        CheckId(userId, nameof(userId));
        foreach (ref readonly var c in commands.Span) CheckId(c.ChannelId, "channelId");
        ThrowIfBacklogFull();
        var shard = ShardFor(userId);
        if (shard.TryBulkAck(userId, commands.Span, results.Span)) return default;
        return BulkAckSlowAsync(shard, userId, commands, results, cancellationToken);
    }

    private static async ValueTask BulkAckSlowAsync(Shard shard, ulong userId, ReadOnlyMemory<AckCommand> commands, Memory<AckResult> results, CancellationToken ct)
    {
        for (int attempt = 0; attempt < MaxLoadAttempts; attempt++)
        {
            await shard.LoadAsync(userId, ct).ConfigureAwait(false);
            if (shard.TryBulkAck(userId, commands.Span, results.Span)) return;
        }
        throw Thrashing(userId);
    }

    public ValueTask<int> AckParentAsync(ulong userId, ulong parentId, ulong messageId, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        ThrowIfBacklogFull();
        var shard = ShardFor(userId);
        if (shard.TryAckParent(userId, parentId, messageId, out int acked)) return new(acked);
        return AckParentSlowAsync(shard, userId, parentId, messageId, cancellationToken);
    }

    private static async ValueTask<int> AckParentSlowAsync(Shard shard, ulong userId, ulong parentId, ulong messageId, CancellationToken ct)
    {
        for (int attempt = 0; attempt < MaxLoadAttempts; attempt++)
        {
            await shard.LoadAsync(userId, ct).ConfigureAwait(false);
            if (shard.TryAckParent(userId, parentId, messageId, out int acked)) return acked;
        }
        throw Thrashing(userId);
    }

    public ValueTask<AckResult> AckPinsAsync(ulong userId, ulong channelId, long lastPinTimestamp, in StateAttributes attributes, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        CheckId(channelId, nameof(channelId));
        ThrowIfBacklogFull();
        var shard = ShardFor(userId);
        if (shard.TryAckPins(userId, channelId, lastPinTimestamp, attributes, out var result)) return new(result);
        return AckPinsSlowAsync(shard, userId, channelId, lastPinTimestamp, attributes, cancellationToken);
    }

    private static async ValueTask<AckResult> AckPinsSlowAsync(Shard shard, ulong userId, ulong channelId, long timestamp, StateAttributes attributes, CancellationToken ct)
    {
        for (int attempt = 0; attempt < MaxLoadAttempts; attempt++)
        {
            await shard.LoadAsync(userId, ct).ConfigureAwait(false);
            if (shard.TryAckPins(userId, channelId, timestamp, attributes, out var result)) return result;
        }
        throw Thrashing(userId);
    }

    /// <summary>
    /// Counts a mention for each user who has not read past it. Users are independent: each is
    /// applied once, in its own critical section. Users at the states limit without a state in the
    /// channel are skipped and reported.
    /// </summary>
    public ValueTask<int> AddMentionsAsync(ulong channelId, ulong messageId, ReadOnlyMemory<ulong> userIds, in StateAttributes attributes,
        ICollection<ulong>? skippedAtLimit, CancellationToken cancellationToken = default)
    {
        CheckId(channelId, nameof(channelId));
        foreach (ulong u in userIds.Span) CheckId(u, nameof(userIds));
        ThrowIfBacklogFull();
        int counted = 0;
        List<ulong>? misses = null;
        foreach (ulong userId in userIds.Span)
        {
            if (ShardFor(userId).TryAddMention(userId, channelId, messageId, attributes, out var outcome))
                Tally(userId, outcome, ref counted, skippedAtLimit);
            else
                (misses ??= []).Add(userId);
        }
        if (misses is null) return new(counted);
        return AddMentionsSlowAsync(channelId, messageId, misses, attributes, skippedAtLimit, counted, cancellationToken);
    }

    private static void Tally(ulong userId, MentionOutcome outcome, ref int counted, ICollection<ulong>? skippedAtLimit)
    {
        if (outcome == MentionOutcome.Counted) counted++;
        else if (outcome == MentionOutcome.AtLimit) skippedAtLimit?.Add(userId);
    }

    private async ValueTask<int> AddMentionsSlowAsync(ulong channelId, ulong messageId, List<ulong> misses, StateAttributes attributes,
        ICollection<ulong>? skippedAtLimit, int counted, CancellationToken ct)
    {
        await LoadAllAsync(misses, ct).ConfigureAwait(false);
        foreach (ulong userId in misses)
        {
            var shard = ShardFor(userId);
            for (int attempt = 0; ; attempt++)
            {
                if (shard.TryAddMention(userId, channelId, messageId, attributes, out var outcome))
                {
                    Tally(userId, outcome, ref counted, skippedAtLimit);
                    break;
                }
                if (attempt == MaxLoadAttempts) throw Thrashing(userId);
                await shard.LoadAsync(userId, ct).ConfigureAwait(false);
            }
        }
        return counted;
    }

    public ValueTask<int> RemoveMentionsAsync(ulong channelId, ulong messageId, ReadOnlyMemory<ulong> userIds, CancellationToken cancellationToken = default)
    {
        CheckId(channelId, nameof(channelId));
        foreach (ulong u in userIds.Span) CheckId(u, nameof(userIds));
        ThrowIfBacklogFull();
        int removed = 0;
        List<ulong>? misses = null;
        foreach (ulong userId in userIds.Span)
        {
            if (ShardFor(userId).TryRemoveMention(userId, channelId, messageId, out bool done))
                removed += done ? 1 : 0;
            else
                (misses ??= []).Add(userId);
        }
        if (misses is null) return new(removed);
        return RemoveMentionsSlowAsync(channelId, messageId, misses, removed, cancellationToken);
    }

    private async ValueTask<int> RemoveMentionsSlowAsync(ulong channelId, ulong messageId, List<ulong> misses, int removed, CancellationToken ct)
    {
        await LoadAllAsync(misses, ct).ConfigureAwait(false);
        foreach (ulong userId in misses)
        {
            var shard = ShardFor(userId);
            for (int attempt = 0; ; attempt++)
            {
                if (shard.TryRemoveMention(userId, channelId, messageId, out bool done))
                {
                    removed += done ? 1 : 0;
                    break;
                }
                if (attempt == MaxLoadAttempts) throw Thrashing(userId);
                await shard.LoadAsync(userId, ct).ConfigureAwait(false);
            }
        }
        return removed;
    }

    private Task LoadAllAsync(List<ulong> userIds, CancellationToken ct)
    {
        var loads = new Task[userIds.Count];
        for (int i = 0; i < loads.Length; i++) loads[i] = ShardFor(userIds[i]).LoadAsync(userIds[i], ct);
        return Task.WhenAll(loads);
    }

    public ValueTask<int> DeleteAsync(ulong userId, ReadOnlyMemory<ulong> channelIds, bool all, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        ThrowIfBacklogFull();
        var shard = ShardFor(userId);
        if (shard.TryDelete(userId, channelIds.Span, all, out int deleted)) return new(deleted);
        return DeleteSlowAsync(shard, userId, channelIds, all, cancellationToken);
    }

    private static async ValueTask<int> DeleteSlowAsync(Shard shard, ulong userId, ReadOnlyMemory<ulong> channelIds, bool all, CancellationToken ct)
    {
        for (int attempt = 0; attempt < MaxLoadAttempts; attempt++)
        {
            await shard.LoadAsync(userId, ct).ConfigureAwait(false);
            if (shard.TryDelete(userId, channelIds.Span, all, out int deleted)) return deleted;
        }
        throw Thrashing(userId);
    }

    // ---- reads -----------------------------------------------------------------------------------

    /// <summary>
    /// Visits a resident user's totals and states (all, or the listed channels) under the shard lock.
    /// Returns false when the user is not resident: <see cref="LoadAsync"/> it, then try again.
    /// </summary>
    public bool TryRead<TVisitor>(ulong userId, ReadOnlySpan<ulong> channelIds, ref TVisitor visitor)
        where TVisitor : IReadStateVisitor, allows ref struct
    {
        CheckId(userId, nameof(userId));
        return ShardFor(userId).TryRead(userId, channelIds, ref visitor);
    }

    /// <summary>Makes a user resident (loading it from the store if needed).</summary>
    public ValueTask LoadAsync(ulong userId, CancellationToken cancellationToken = default) =>
        new(ShardFor(userId).LoadAsync(userId, cancellationToken));

    /// <summary>Reads with a class visitor, loading the user first when it is not resident.</summary>
    public ValueTask ReadAsync<TVisitor>(ulong userId, ReadOnlyMemory<ulong> channelIds, TVisitor visitor, CancellationToken cancellationToken = default)
        where TVisitor : class, IReadStateVisitor
    {
        CheckId(userId, nameof(userId));
        var shard = ShardFor(userId);
        if (shard.TryRead(userId, channelIds.Span, ref visitor)) return default;
        return ReadSlowAsync(shard, userId, channelIds, visitor, cancellationToken);
    }

    private static async ValueTask ReadSlowAsync<TVisitor>(Shard shard, ulong userId, ReadOnlyMemory<ulong> channelIds, TVisitor visitor, CancellationToken ct)
        where TVisitor : class, IReadStateVisitor
    {
        for (int attempt = 0; attempt < MaxLoadAttempts; attempt++)
        {
            await shard.LoadAsync(userId, ct).ConfigureAwait(false);
            if (shard.TryRead(userId, channelIds.Span, ref visitor)) return;
        }
        throw Thrashing(userId);
    }

    public EngineStats GetStats()
    {
        var total = default(EngineStats);
        foreach (var shard in _shards)
        {
            var s = shard.GetStats();
            total.ResidentUsers += s.ResidentUsers;
            total.ResidentStates += s.ResidentUnits;
            total.EvictedDirtyUsers += s.EvictedDirtyUsers;
            total.QueuedDirtyUsers += s.QueuedDirtyUsers;
            total.ReservedStateSlots += s.ReservedStates;
            total.RentedStateSlots += s.RentedStates;
            total.ReservedMentionWords += s.ReservedMentionWords;
            total.Loads += s.Loads;
            total.Evictions += s.Evictions;
        }
        total.BacklogStates = _shared.Backlog;
        total.StoreHealthy = _shared.StoreHealthy;
        total.FlushedUsers = Interlocked.Read(ref _flushedUsers);
        total.StoreWriteFailures = Interlocked.Read(ref _writeFailures);
        return total;
    }
}

/// <summary>A point-in-time view of the engine, for metrics and tests.</summary>
public struct EngineStats
{
    public int ResidentUsers;
    /// <summary>Capacity units in use: resident states (tombstones included), at least one per user.</summary>
    public long ResidentStates;
    public int EvictedDirtyUsers;
    public int QueuedDirtyUsers;
    public long BacklogStates;
    public long ReservedStateSlots;
    public long RentedStateSlots;
    public long ReservedMentionWords;
    public bool StoreHealthy;
    public long FlushedUsers;
    public long StoreWriteFailures;
    public long Loads;
    public long Evictions;
}
