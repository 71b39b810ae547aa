using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ReadStates.Core.Cache;
using ReadStates.Core.Durability;
using ReadStates.Core.Storage;

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
    private readonly InstrumentedStore _store;
    private readonly EngineCounters _counters;
    private EngineMetrics? _metrics;

    /// <param name="logDevice">
    /// Where the change log lives (owned by the engine from now on): required for <see cref="DurabilityMode.Durable"/>;
    /// in deferred mode it keeps what a failing store could not take at shutdown. Either way it is replayed by <see cref="StartAsync"/>.
    /// </param>
    public ReadStateEngine(EngineOptions options, IReadStateStore store, ILogger<ReadStateEngine>? logger = null, TimeProvider? timeProvider = null,
        ILogDevice? logDevice = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join(" ", errors), nameof(options));
        Options = options;
        _time = timeProvider ?? TimeProvider.System;
        _store = new InstrumentedStore(store);
        _shared = new EngineShared(options, _store, (ILogger?)logger ?? NullLogger.Instance) { WakeFlusher = WakeFlusher, Time = _time };
        int shards = options.EffectiveShards;
        _counters = new EngineCounters(shards);
        _lastCompletedPass = _time.GetTimestamp();
        _shardShift = 64 - System.Numerics.BitOperations.Log2((uint)shards);
        _shards = new Shard[shards];
        for (int i = 0; i < shards; i++) _shards[i] = new Shard(_shared, options.CapacityStates / shards);
        (_logDevice, _changeLog) = InitDurability(logDevice);
    }

    public EngineOptions Options { get; }

    /// <summary>Called by <see cref="EngineMetrics"/>: from then on store calls and flush batches are recorded.</summary>
    internal void Attach(EngineMetrics metrics)
    {
        _metrics = metrics;
        _store.Attach(metrics);
    }

    private Shard ShardFor(ulong userId) => _shards[ShardIndex(userId)];

    private int ShardIndex(ulong userId)
    {
        if (_shards.Length == 1) return 0;
        // A different mix from the user index's, so a shard's users still spread over its index.
        ulong h = userId ^ (userId >> 33);
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        return (int)(h >> _shardShift);
    }

    /// <summary>Zero is never an id, and channel 0 is where stores keep the per-user meta row.</summary>
    private static void CheckId(ulong id, string name)
    {
        if (id == 0) ThrowZeroId(name);
    }

    private static void ThrowZeroId(string name) => throw new ArgumentOutOfRangeException(name, "Ids must not be zero.");

    private void ThrowIfBacklogFull()
    {
        if (_shared.Backlog <= Options.MaxBacklogStates && !_refusing) return;
        ThrowRefused();
    }

    private void ThrowRefused()
    {
        ThrowIfLogRefuses();
        if (_shared.Backlog > Options.MaxBacklogStates) ThrowBacklogFull();
    }

    private void ThrowBacklogFull() => throw (_shared.StoreHealthy
        ? new BackpressureException(false, "The write-behind backlog is full; retry shortly.")
        : new BackpressureException(true, $"The {_shared.Store.Name} store is failing and the write-behind backlog is full."));

    private static Exception Thrashing(ulong userId) =>
        new BackpressureException(false, $"User {userId} was evicted before it could be used; the cache is too small for the load.");

    // ---- the miss path, once for every operation -----------------------------------------------

    /// <summary>Runs an operation on a resident user without allocating; on a miss, loads the user and retries.</summary>
    private ValueTask<TResult> Run<TOp, TResult>(ulong userId, TOp op, CancellationToken ct)
        where TOp : struct, IUserOperation<TResult>
    {
        // A durable write's result travels on to the change log's waiter; on a path of its own, that use of the
        // whole result does not make the JIT keep this path's result in memory and copy it (stalled copies).
        if (_changeLog is not null && op.Writes) return RunDurable<TOp, TResult>(userId, op, ct);
        int index = ShardIndex(userId);
        if (op.TryRun(_shards[index], userId, out var result)) return new(result);
        _counters.Miss(index);
        return RunAfterLoadAsync<TOp, TResult>(index, userId, op, ct);
    }

    /// <summary><see cref="Run"/> for a write in durable mode: answered once the change log has it on disk.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<TResult> RunDurable<TOp, TResult>(ulong userId, TOp op, CancellationToken ct)
        where TOp : struct, IUserOperation<TResult>
    {
        int index = ShardIndex(userId);
        if (op.TryRun(_shards[index], userId, out var result)) return _changeLog!.WhenDurable(ChangeLog.TakeTicket(), result);
        _counters.Miss(index);
        return RunAfterLoadAsync<TOp, TResult>(index, userId, op, ct);
    }

    /// <summary>As <see cref="Run"/>, for calls that return no value: no task is allocated while a durable call waits for its fsync.</summary>
    private ValueTask RunUntyped<TOp>(ulong userId, TOp op, CancellationToken ct)
        where TOp : struct, IUserOperation<bool>
    {
        int index = ShardIndex(userId);
        var shard = _shards[index];
        if (op.TryRun(shard, userId, out _))
            return _changeLog is null || !op.Writes ? default : _changeLog.WhenDurable(ChangeLog.TakeTicket());
        _counters.Miss(index);
        return new ValueTask(RunAfterLoadAsync<TOp, bool>(index, userId, op, ct).AsTask());
    }

    private async ValueTask<TResult> RunAfterLoadAsync<TOp, TResult>(int index, ulong userId, TOp op, CancellationToken ct)
        where TOp : struct, IUserOperation<TResult>
    {
        var shard = _shards[index];
        // The span exists only on a miss; the store call it waits for becomes its child.
        using var activity = EngineTracing.Source.StartActivity("engine.miss");
        activity?.SetTag(EngineTracing.UserIdTag, userId);
        try
        {
            for (int attempt = 0; attempt < MaxLoadAttempts; attempt++)
            {
                await shard.LoadAsync(userId, ct).ConfigureAwait(false);
                if (op.TryRun(shard, userId, out var result))
                {
                    _counters.RetryServed(index);
                    if (_changeLog is not null && op.Writes) await _changeLog.WaitAsync(ChangeLog.TakeTicket()).ConfigureAwait(false);
                    return result;
                }
            }
        }
        catch (Exception ex)
        {
            EngineTracing.Fail(activity, ex);
            throw;
        }
        var thrashing = Thrashing(userId);
        EngineTracing.Fail(activity, thrashing);
        throw thrashing;
    }

    /// <summary>One resident-or-not decision of a fan-out, counted like <see cref="Run"/>'s.</summary>
    private bool TryRunCounted<TOp, TResult>(in TOp op, ulong userId, out TResult result)
        where TOp : struct, IUserOperation<TResult>
    {
        int index = ShardIndex(userId);
        if (op.TryRun(_shards[index], userId, out result)) return true;
        _counters.Miss(index);
        return false;
    }

    // ---- writes ----------------------------------------------------------------------------------

    public ValueTask<AckResult> AckAsync(ulong userId, in AckCommand command, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        CheckId(command.ChannelId, "channelId");
        ThrowIfBacklogFull();
        return Run<AckOp, AckResult>(userId, new AckOp(command), cancellationToken);
    }

    public ValueTask BulkAckAsync(ulong userId, ReadOnlyMemory<AckCommand> commands, Memory<AckResult> results, CancellationToken cancellationToken = default)
    {
        if (results.Length < commands.Length) throw new ArgumentException("One result per command is needed.", nameof(results));
        CheckId(userId, nameof(userId));
        foreach (ref readonly var c in commands.Span) CheckId(c.ChannelId, "channelId");
        ThrowIfBacklogFull();
        return RunUntyped(userId, new BulkAckOp(commands, results), cancellationToken);
    }

    public ValueTask<int> AckParentAsync(ulong userId, ulong parentId, ulong messageId, CancellationToken cancellationToken = default) =>
        AckParentAsync(userId, parentId, messageId, expectedUserVersion: null, cancellationToken);

    public ValueTask<AckResult> AckPinsAsync(ulong userId, ulong channelId, long lastPinTimestamp, in StateAttributes attributes, CancellationToken cancellationToken = default) =>
        AckPinsAsync(userId, channelId, lastPinTimestamp, attributes, expectedVersion: null, cancellationToken);

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
        var op = new AddMentionOp(channelId, messageId, attributes);
        int counted = 0;
        long ticket = 0;
        List<ulong>? misses = null;
        foreach (ulong userId in userIds.Span)
        {
            if (TryRunCounted<AddMentionOp, MentionOutcome>(op, userId, out var outcome))
            {
                Tally(userId, outcome, ref counted, skippedAtLimit);
                if (_changeLog is not null) ticket = Math.Max(ticket, ChangeLog.TakeTicket());
            }
            else (misses ??= []).Add(userId);
        }
        if (misses is null) return _changeLog is null ? new(counted) : _changeLog.WhenDurable(ticket, counted);
        return AddMentionsAfterLoadAsync(op, misses, skippedAtLimit, counted, ticket, cancellationToken);
    }

    private static void Tally(ulong userId, MentionOutcome outcome, ref int counted, ICollection<ulong>? skippedAtLimit)
    {
        if (outcome == MentionOutcome.Counted) counted++;
        else if (outcome == MentionOutcome.AtLimit) skippedAtLimit?.Add(userId);
    }

    private async ValueTask<int> AddMentionsAfterLoadAsync(AddMentionOp op, List<ulong> misses, ICollection<ulong>? skippedAtLimit, int counted, long ticket, CancellationToken ct)
    {
        // The users already done must be durable too: the loaded ones wait for their own groups in RunLoaded.
        if (_changeLog is not null) await _changeLog.WaitAsync(ticket).ConfigureAwait(false);
        await LoadAllAsync(misses, ct).ConfigureAwait(false);
        foreach (ulong userId in misses)
            Tally(userId, await RunLoaded<AddMentionOp, MentionOutcome>(userId, op, ct).ConfigureAwait(false), ref counted, skippedAtLimit);
        return counted;
    }

    public ValueTask<int> RemoveMentionsAsync(ulong channelId, ulong messageId, ReadOnlyMemory<ulong> userIds, CancellationToken cancellationToken = default)
    {
        CheckId(channelId, nameof(channelId));
        foreach (ulong u in userIds.Span) CheckId(u, nameof(userIds));
        ThrowIfBacklogFull();
        var op = new RemoveMentionOp(channelId, messageId);
        int removed = 0;
        long ticket = 0;
        List<ulong>? misses = null;
        foreach (ulong userId in userIds.Span)
        {
            if (TryRunCounted<RemoveMentionOp, bool>(op, userId, out bool done))
            {
                removed += done ? 1 : 0;
                if (_changeLog is not null) ticket = Math.Max(ticket, ChangeLog.TakeTicket());
            }
            else (misses ??= []).Add(userId);
        }
        if (misses is null) return _changeLog is null ? new(removed) : _changeLog.WhenDurable(ticket, removed);
        return RemoveMentionsAfterLoadAsync(op, misses, removed, ticket, cancellationToken);
    }

    private async ValueTask<int> RemoveMentionsAfterLoadAsync(RemoveMentionOp op, List<ulong> misses, int removed, long ticket, CancellationToken ct)
    {
        if (_changeLog is not null) await _changeLog.WaitAsync(ticket).ConfigureAwait(false);
        await LoadAllAsync(misses, ct).ConfigureAwait(false);
        foreach (ulong userId in misses)
            removed += await RunLoaded<RemoveMentionOp, bool>(userId, op, ct).ConfigureAwait(false) ? 1 : 0;
        return removed;
    }

    /// <summary>A missed user of a fan-out, after its load (already counted as a miss).</summary>
    private ValueTask<TResult> RunLoaded<TOp, TResult>(ulong userId, TOp op, CancellationToken ct)
        where TOp : struct, IUserOperation<TResult>
    {
        int index = ShardIndex(userId);
        if (op.TryRun(_shards[index], userId, out var result))
        {
            _counters.RetryServed(index); // counted as a miss before its load
            return _changeLog is null || !op.Writes ? new(result) : _changeLog.WhenDurable(ChangeLog.TakeTicket(), result);
        }
        return RunAfterLoadAsync<TOp, TResult>(index, userId, op, ct);
    }

    /// <summary>Loads the missed users of a fan-out concurrently, rather than one store round trip after another.</summary>
    private async Task LoadAllAsync(List<ulong> userIds, CancellationToken ct)
    {
        using var activity = EngineTracing.Source.StartActivity("engine.miss");
        activity?.SetTag(EngineTracing.UsersTag, userIds.Count);
        var loads = new Task[userIds.Count];
        for (int i = 0; i < loads.Length; i++) loads[i] = ShardFor(userIds[i]).LoadAsync(userIds[i], ct);
        try
        {
            await Task.WhenAll(loads).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            EngineTracing.Fail(activity, ex);
            throw;
        }
    }

    public ValueTask<int> DeleteAsync(ulong userId, ReadOnlyMemory<ulong> channelIds, bool all, CancellationToken cancellationToken = default) =>
        DeleteAsync(userId, channelIds, all, default, expectedUserVersion: null, cancellationToken);

    // ---- reads -----------------------------------------------------------------------------------

    /// <summary>
    /// Copies a resident user's totals and states (all, or the listed channels) into <paramref name="into"/>
    /// under the shard lock. Returns false when the user is not resident: <see cref="LoadAsync"/> it, then try again.
    /// </summary>
    public bool TryRead(ulong userId, ReadOnlySpan<ulong> channelIds, UserSnapshot into)
    {
        CheckId(userId, nameof(userId));
        ArgumentNullException.ThrowIfNull(into);
        int index = ShardIndex(userId);
        if (_shards[index].TryRead(userId, channelIds, into)) return true;
        _counters.Miss(index);
        return false;
    }

    /// <summary>Makes a user resident (loading it from the store if needed).</summary>
    public ValueTask LoadAsync(ulong userId, CancellationToken cancellationToken = default) =>
        new(ShardFor(userId).LoadAsync(userId, cancellationToken));

    /// <summary>Copies a user's totals and states into <paramref name="into"/>, loading the user first when it is not resident.</summary>
    public ValueTask ReadAsync(ulong userId, ReadOnlyMemory<ulong> channelIds, UserSnapshot into, CancellationToken cancellationToken = default)
    {
        CheckId(userId, nameof(userId));
        ArgumentNullException.ThrowIfNull(into);
        return RunUntyped(userId, new ReadOp(channelIds, into), cancellationToken);
    }

    // ---- the operations, as structs so the resident path is a direct, allocation-free call --------

    private interface IUserOperation<TResult>
    {
        /// <summary>Applies the operation if the user is resident; false means "load it, then try again".</summary>
        bool TryRun(Shard shard, ulong userId, out TResult result);

        /// <summary>True for calls that may change states: in durable mode they are answered once on disk. A constant per struct.</summary>
        bool Writes { get; }
    }

    private readonly struct AckOp(AckCommand command) : IUserOperation<AckResult>
    {
        public bool Writes => true;
        public bool TryRun(Shard shard, ulong userId, out AckResult result) => shard.TryAck(userId, command, out result);
    }

    private readonly struct BulkAckOp(ReadOnlyMemory<AckCommand> commands, Memory<AckResult> results) : IUserOperation<bool>
    {
        public bool Writes => true;
        public bool TryRun(Shard shard, ulong userId, out bool result) => result = shard.TryBulkAck(userId, commands.Span, results.Span);
    }

    private readonly struct AckParentOp(ulong parentId, ulong messageId, ulong? expectedUserVersion) : IUserOperation<int>
    {
        public bool Writes => true;
        public bool TryRun(Shard shard, ulong userId, out int result) => shard.TryAckParent(userId, parentId, messageId, expectedUserVersion, out result);
    }

    private readonly struct AckPinsOp(ulong channelId, long timestamp, StateAttributes attributes, ulong? expectedVersion) : IUserOperation<AckResult>
    {
        public bool Writes => true;
        public bool TryRun(Shard shard, ulong userId, out AckResult result) => shard.TryAckPins(userId, channelId, timestamp, attributes, expectedVersion, out result);
    }

    private readonly struct AddMentionOp(ulong channelId, ulong messageId, StateAttributes attributes) : IUserOperation<MentionOutcome>
    {
        public bool Writes => true;
        public bool TryRun(Shard shard, ulong userId, out MentionOutcome result) => shard.TryAddMention(userId, channelId, messageId, attributes, out result);
    }

    private readonly struct RemoveMentionOp(ulong channelId, ulong messageId) : IUserOperation<bool>
    {
        public bool Writes => true;
        public bool TryRun(Shard shard, ulong userId, out bool result) => shard.TryRemoveMention(userId, channelId, messageId, out result);
    }

    private readonly struct DeleteOp(ReadOnlyMemory<ulong> channelIds, bool all, ReadOnlyMemory<ulong> expectedVersions, ulong? expectedUserVersion) : IUserOperation<int>
    {
        public bool Writes => true;
        public bool TryRun(Shard shard, ulong userId, out int result) =>
            shard.TryDelete(userId, channelIds.Span, all, expectedVersions.Span, expectedUserVersion, out result);
    }

    private readonly struct ReadOp(ReadOnlyMemory<ulong> channelIds, UserSnapshot into) : IUserOperation<bool>
    {
        public bool Writes => false;
        public bool TryRun(Shard shard, ulong userId, out bool result) => result = shard.TryRead(userId, channelIds.Span, into);
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
            total.DirtyUsers += s.DirtyUsers;
            total.ReservedStateSlots += s.ReservedStates;
            total.RentedStateSlots += s.RentedStates;
            total.ReservedMentionWords += s.ReservedMentionWords;
            total.Loads += s.Loads;
            total.Evictions += s.Evictions;
            total.MentionOverflows += s.MentionOverflows;
            total.ProtectedUsers += s.ProtectedUsers;
            total.WatchedUsers += shard.WatchedUsers;
        }
        (total.Hits, total.Misses) = _counters.Read(i => _shards[i].Served);
        total.UnwrittenAge = UnwrittenAge;
        total.WriteBehindRunning = IsRunning;
        total.BacklogStates = _shared.Backlog;
        // A write that neither succeeds nor fails (a paused node, replies later than every timeout) leaves
        // the last outcome standing for as long as the retries take: past the stall bound it counts as failing.
        total.StoreWriteInFlight = WriteInFlightFor;
        total.StoreWriteStalled = total.StoreWriteInFlight > Options.StoreStallTimeout;
        total.StoreHealthy = _shared.StoreHealthy && !total.StoreWriteStalled;
        total.FlushedUsers = Interlocked.Read(ref _flushedUsers);
        total.StoreWriteFailures = Interlocked.Read(ref _writeFailures);
        total.IsolatedUsers = _isolatedCount;
        if (_changeLog is not null) total.ChangeLog = _changeLog.GetStats();
        return total;
    }
}
