using System.Diagnostics;
using System.Runtime.CompilerServices;
using ReadStates.Core.Storage;
using ReadStates.Core.Sync;

namespace ReadStates.Core.Cache;

/// <summary>
/// One shard of the cache: which users are resident and where. Users live in a struct array found
/// through an open-addressing <see cref="UserIndex"/>, ordered for eviction by a <see cref="SegmentedLru"/>,
/// their states in a <see cref="StateArena"/>; the rules of each call are <see cref="StateRules"/>.
/// Every public method takes the shard lock (a <see cref="ShardGate"/>) for a short, I/O-free critical section; store loads and
/// writes happen outside it, and so does notifying the watchers of a changed user (<see cref="ShardWatchers"/>).
/// </summary>
internal sealed partial class Shard
{
    // A few batches per shard serve loads and evicted copies, so misses and evictions don't
    // allocate a batch (several KB) each time.
    private const int MaxSpareBatches = 4;

    private readonly ShardGate _gate = new();
    private readonly EngineShared _shared;
    private readonly long _capacity;
    private readonly StateArena _arena;
    private readonly UserIndex _index = new();
    private readonly SegmentedLru<SlotNodes> _lru;
    private readonly DirtyQueue _dirty = new();
    private readonly EvictedUsers _evicted;
    private readonly ShardWatchers _watchers = new();
    private readonly Dictionary<ulong, Task> _loading = [];
    private readonly Stack<StateBatch> _spareBatches = new();

    private UserSlot[] _slots = new UserSlot[64];
    private int _slotHigh;
    private int _freeSlot = -1;
    private long _units;
    private int _queuedResident;
    /// <summary>Resident users with changes the store does not have (evicted ones are counted by <see cref="_evicted"/>).</summary>
    private int _dirtyResident;
    private long _loads;
    private long _evictions;
    /// <summary>Operations that found their user resident (or reinstated it from memory); written under the lock.</summary>
    private long _served;

    public Shard(EngineShared shared, long capacity)
    {
        _shared = shared;
        _capacity = capacity;
        _arena = new StateArena(shared.Options.MentionIdCap);
        _evicted = new EvictedUsers(shared);
        _lru = new(new SlotNodes(this));
    }

    /// <summary>The eviction order's nodes live in the user slots (read through the shard: the array grows).</summary>
    private readonly struct SlotNodes(Shard shard) : ILruNodes
    {
        public ref LruNode this[int slot] => ref shard._slots[slot].Lru;
    }

    private int MaxStates => _shared.Options.MaxStatesPerUser;

    // ---- the calls: lock, make resident, apply the rule, finish --------------------------------------

    public bool TryAck(ulong userId, in AckCommand cmd, out AckResult result)
    {
        ChangeSubscription? watchers;
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) { result = default; return false; }
            var (stamp, units, wasDirty) = Begin(ref u);
            result = StateRules.Ack(_arena, ref u, cmd, MaxStates, ref stamp);
            watchers = Finish(slot, ref u, units, wasDirty, stamp);
        }
        ChangeSubscription.NotifyAll(watchers);
        return true;
    }

    public bool TryBulkAck(ulong userId, ReadOnlySpan<AckCommand> cmds, Span<AckResult> results)
    {
        ChangeSubscription? watchers;
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) return false;
            var (stamp, units, wasDirty) = Begin(ref u);
            StateRules.BulkAck(_arena, ref u, cmds, results, MaxStates, ref stamp);
            watchers = Finish(slot, ref u, units, wasDirty, stamp);
        }
        ChangeSubscription.NotifyAll(watchers);
        return true;
    }

    public bool TryAckParent(ulong userId, ulong parentId, ulong messageId, ulong? expectedUserVersion, out int acked)
    {
        ChangeSubscription? watchers;
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) { acked = 0; return false; }
            var (stamp, units, wasDirty) = Begin(ref u);
            acked = StateRules.AckParent(_arena, ref u, parentId, messageId, expectedUserVersion, ref stamp);
            watchers = Finish(slot, ref u, units, wasDirty, stamp);
        }
        ChangeSubscription.NotifyAll(watchers);
        return true;
    }

    public bool TryAckPins(ulong userId, ulong channelId, long timestamp, in StateAttributes attributes, ulong? expectedVersion, out AckResult result)
    {
        ChangeSubscription? watchers;
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) { result = default; return false; }
            var (stamp, units, wasDirty) = Begin(ref u);
            result = StateRules.AckPins(_arena, ref u, channelId, timestamp, attributes, expectedVersion, MaxStates, ref stamp);
            watchers = Finish(slot, ref u, units, wasDirty, stamp);
        }
        ChangeSubscription.NotifyAll(watchers);
        return true;
    }

    public bool TryAddMention(ulong userId, ulong channelId, ulong messageId, in StateAttributes attributes, out MentionOutcome outcome)
    {
        ChangeSubscription? watchers;
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) { outcome = default; return false; }
            var (stamp, units, wasDirty) = Begin(ref u);
            outcome = StateRules.AddMention(_arena, ref u, channelId, messageId, attributes, MaxStates, ref stamp);
            watchers = Finish(slot, ref u, units, wasDirty, stamp);
        }
        ChangeSubscription.NotifyAll(watchers);
        return true;
    }

    public bool TryRemoveMention(ulong userId, ulong channelId, ulong messageId, out bool removed)
    {
        ChangeSubscription? watchers;
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) { removed = false; return false; }
            var (stamp, units, wasDirty) = Begin(ref u);
            removed = StateRules.RemoveMention(_arena, ref u, channelId, messageId, ref stamp);
            watchers = Finish(slot, ref u, units, wasDirty, stamp);
        }
        ChangeSubscription.NotifyAll(watchers);
        return true;
    }

    public bool TryDelete(ulong userId, ReadOnlySpan<ulong> channelIds, bool all, ReadOnlySpan<ulong> expectedVersions, ulong? expectedUserVersion, out int deleted)
    {
        ChangeSubscription? watchers;
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) { deleted = 0; return false; }
            var (stamp, units, wasDirty) = Begin(ref u);
            deleted = StateRules.Delete(_arena, ref u, channelIds, all, expectedVersions, expectedUserVersion,
                _shared.NowMs(), _shared.Options.MaxTombstonesPerUser, ref stamp);
            watchers = Finish(slot, ref u, units, wasDirty, stamp);
        }
        ChangeSubscription.NotifyAll(watchers);
        return true;
    }

    /// <summary>Copies a resident user's states and totals into <paramref name="into"/>; false when it needs a load.</summary>
    public bool TryRead(ulong userId, ReadOnlySpan<ulong> channelIds, UserSnapshot into)
    {
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) return false;
            UserReader.Read(_arena, u, channelIds, into);
            return true;
        }
    }

    private static (Stamp Stamp, long Units, bool WasDirty) Begin(ref UserSlot u) => (default, u.Units, u.IsDirty);

    /// <summary>
    /// After a call: account for grown or shrunk blocks, queue a changed user for write-behind, evict past
    /// capacity. Returns the user's watchers to notify once the lock is released (null: unchanged or unwatched).
    /// </summary>
    private ChangeSubscription? Finish(int slot, ref UserSlot u, long unitsBefore, bool wasDirty, in Stamp stamp)
    {
        AssertLocked();
        Debug.Assert(Unsafe.AreSame(ref u, ref _slots[slot]), "the slot and its reference disagree");
        _units += u.Units - unitsBefore;
        if (_log is not null) LogCall(slot, stamp);
        if (!stamp.Changed) return null;
        if (!wasDirty && u.IsDirty) _dirtyResident++;
        // Read before eviction can reuse the slot; nobody watching costs one compare.
        var watchers = _watchers.Count == 0 ? null : _watchers.Of(u.UserId);
        MarkDirty(ref u);
        EvictOverCapacity(slot);
        return watchers;
    }

    // ---- residency ---------------------------------------------------------------------------------

    /// <summary>
    /// The resident slot of a user and a reference to it, reinstating an evicted dirty user from memory;
    /// <paramref name="slot"/> -1 (and a null reference) when it needs a store load. The reference is good
    /// until the next slot is allocated (a load or a reinstatement may grow the array): callers use it within the call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref UserSlot Resolve(ulong userId, out int slot)
    {
        AssertLocked();
        if (_index.TryGet(userId, out slot))
        {
            ref var u = ref _slots[slot];
            _lru.Touch(slot, ref u.Lru);
            _served++;
            return ref u;
        }
        slot = ReinstateEvicted(userId);
        if (slot < 0) return ref Unsafe.NullRef<UserSlot>();
        return ref _slots[slot];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int ReinstateEvicted(ulong userId)
    {
        if (_evicted.TryTake(userId, out var evicted))
        {
            int slot = InsertUser(userId, evicted.States, evicted.PersistedVersion, evicted.PersistedFloor);
            ReturnBatch(evicted.States);
            _lru.Touch(slot); // this call is the access that brought it back
            _served++;
            MarkDirty(slot);
            EvictOverCapacity(slot);
            return slot;
        }
        return -1;
    }

    private void MarkDirty(int slot) => MarkDirty(ref _slots[slot]);

    private void MarkDirty(ref UserSlot u)
    {
        if (u.Queued) return;
        u.Queued = true;
        _queuedResident++;
        _dirty.Push(u.UserId);
    }

    private int AllocSlot()
    {
        if (_freeSlot >= 0)
        {
            int s = _freeSlot;
            _freeSlot = _slots[s].Lru.Next;
            return s;
        }
        if (_slotHigh == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
        return _slotHigh++;
    }

    /// <summary>
    /// Makes a user resident from a one-user batch: a store load (persisted versions null: the store has it all),
    /// or an evicted user's copy (with what the store had of it).
    /// </summary>
    private int InsertUser(ulong userId, StateBatch batch, ulong? persistedVersion, ulong? persistedFloor)
    {
        AssertLocked();
        Debug.Assert(!_index.TryGet(userId, out _), "user already resident");
        int slot = AllocSlot();
        ref var u = ref _slots[slot];
        u = new UserSlot { UserId = userId, StatesStart = -1 };
        if (batch.UserCount > 0)
        {
            var entry = batch.Users[0];
            Debug.Assert(entry.UserId == userId, "batch of another user");
            u.Version = entry.Version;
            u.SyncFloor = entry.SyncFloor;
            u.PersistedFloor = persistedFloor ?? entry.SyncFloor;
            _arena.Restore(ref u, batch, entry, u.PersistedFloor);
        }
        u.PersistedVersion = persistedVersion ?? u.Version;
        if (persistedVersion is null)
        {
            // A store load: tombstones that aged out (or overflow the cap) while the user was away are compacted
            // now, and write-behind purges their rows.
            // The clock is read only when there is something to expire: most loads hold no tombstones.
            if (u.Retained > 0) TombstoneCompaction.ExpireOld(_arena, ref u, _shared.NowMs(), _shared.RetentionMs);
            TombstoneCompaction.EnforceCap(_arena, ref u, _shared.Options.MaxTombstonesPerUser);
        }
        _index.Add(userId, slot);
        _lru.Add(slot);
        _units += u.Units;
        if (u.IsDirty) _dirtyResident++; // an evicted dirty user back, or a load whose tombstones aged out
        return slot;
    }

    private void EvictOverCapacity(int servedSlot)
    {
        while (_units > _capacity)
        {
            int victim = _lru.Victim(servedSlot);
            if (victim < 0) return;
            Evict(victim);
        }
    }

    private void Evict(int slot)
    {
        AssertLocked();
        _evictions++;
        ref var u = ref _slots[slot];
        if (u.IsDirty)
        {
            _dirtyResident--; // counted among the evicted from now on
            var copy = RentBatch();
            copy.BeginUser(u.UserId, u.Version);
            copy.RaiseSyncFloor(u.SyncFloor);
            _arena.CopyTo(copy, u, changedAfter: null);
            _evicted.Add(new EvictedUser(u.UserId, copy, u.Version, u.PersistedVersion, u.SyncFloor, u.PersistedFloor));
            if (_shared.Backlog > _shared.Options.MaxBacklogStates / 4) _shared.WakeFlusher?.Invoke();
        }
        if (u.Queued) _queuedResident--; // its queue entry goes stale and is skipped
        _units -= u.Units;
        _arena.Release(ref u);
        _index.Remove(u.UserId);
        _lru.Remove(slot);
        u = default;
        u.Lru.Next = _freeSlot;
        _freeSlot = slot;
    }

    private StateBatch RentBatch() => _spareBatches.TryPop(out var batch) ? batch : new StateBatch();

    private void ReturnBatch(StateBatch batch)
    {
        batch.Clear();
        if (_spareBatches.Count < MaxSpareBatches) _spareBatches.Push(batch);
    }

    [Conditional("DEBUG")]
    private void AssertLocked() => Debug.Assert(_gate.IsHeldByCurrentThread, "the shard lock must be held");

    // ---- loads -------------------------------------------------------------------------------------

    /// <summary>Makes the user resident. Concurrent misses on one user share one store load.</summary>
    public Task LoadAsync(ulong userId, CancellationToken cancellationToken)
    {
        TaskCompletionSource tcs;
        using (_gate.Hold())
        {
            if (_index.TryGet(userId, out _) || _evicted.Contains(userId)) return Task.CompletedTask;
            if (_loading.TryGetValue(userId, out var pending)) return pending.WaitAsync(cancellationToken);
            tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _loading.Add(userId, tcs.Task);
        }
        _ = RunLoadAsync(userId, tcs);
        return tcs.Task.WaitAsync(cancellationToken);
    }

    private async Task RunLoadAsync(ulong userId, TaskCompletionSource tcs)
    {
        StateBatch batch;
        using (_gate.Hold()) batch = RentBatch();
        try
        {
            await _shared.Store.LoadUserAsync(userId, batch, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            using (_gate.Hold())
            {
                _loading.Remove(userId);
                ReturnBatch(batch);
            }
            EngineLog.LoadFailed(_shared.Logger, userId, ex);
            tcs.SetException(new StoreUnavailableException($"Could not load user {userId} from the {_shared.Store.Name} store: {ex.Message}", ex));
            return;
        }
        try
        {
            using (_gate.Hold())
            {
                _loading.Remove(userId);
                _loads++;
                if (!_index.TryGet(userId, out _) && !_evicted.Contains(userId))
                {
                    int slot = InsertUser(userId, batch, null, null);
                    if (_slots[slot].IsDirty) MarkDirty(slot);
                    EvictOverCapacity(slot);
                }
                ReturnBatch(batch);
            }
            tcs.SetResult();
        }
        catch (Exception ex)
        {
            tcs.TrySetException(ex);
        }
    }

    // ---- write-behind ------------------------------------------------------------------------------

    /// <summary>
    /// Copies dirty users (resident ones from the dirty queue, then evicted ones) into the batch, up to
    /// its user limit. Returns how many users it added: they are contiguous in the batch.
    /// </summary>
    public int CollectDirty(StateBatch batch, int maxUsers, long cycle)
    {
        using (_gate.Hold())
        {
            int before = batch.UserCount;
            while (batch.UserCount < maxUsers && _dirty.TryPop(out ulong userId))
            {
                if (!_index.TryGet(userId, out int slot)) continue;
                ref var u = ref _slots[slot];
                if (!u.Queued) continue; // a stale entry: the user was evicted and came back
                u.Queued = false;
                _queuedResident--;
                if (!u.IsDirty) continue;
                batch.BeginUser(u.UserId, u.Version);
                batch.RaiseSyncFloor(u.SyncFloor);
                _arena.CopyTo(batch, u, u.PersistedVersion);
            }
            if (_evicted.Count == 0) return batch.UserCount - before;
            foreach (var evicted in _evicted.All)
            {
                if (batch.UserCount >= maxUsers) break;
                if (evicted.CollectedInCycle == cycle) continue;
                evicted.CollectedInCycle = cycle;
                batch.BeginUser(evicted.UserId, evicted.Version);
                batch.RaiseSyncFloor(evicted.SyncFloor);
                var copy = evicted.States;
                foreach (ref readonly var s in copy.States)
                {
                    // Changed since the last write, or a compacted tombstone whose row the store still has.
                    bool purge = s.IsDeleted && s.State.Version <= evicted.SyncFloor && s.State.Version > evicted.PersistedFloor;
                    if (s.State.Version <= evicted.PersistedVersion && !purge) continue;
                    batch.AddState(s.State, s.OverflowCount, s.OverflowMaxId, copy.MentionsOf(s));
                }
            }
            return batch.UserCount - before;
        }
    }

    /// <summary>
    /// The store has these users (all of this shard) up to each entry's version and sync floor: advance,
    /// free the compacted tombstones it purged, release evicted copies. One lock acquisition for the whole run.
    /// </summary>
    public void MarkPersisted(ReadOnlySpan<UserEntry> users)
    {
        using (_gate.Hold())
        {
            foreach (ref readonly var user in users)
            {
                if (_index.TryGet(user.UserId, out int slot))
                {
                    ref var u = ref _slots[slot];
                    bool wasDirty = u.IsDirty;
                    if (user.Version > u.PersistedVersion) u.PersistedVersion = user.Version;
                    if (user.SyncFloor > u.PersistedFloor) u.PersistedFloor = user.SyncFloor;
                    if (wasDirty && !u.IsDirty) _dirtyResident--;
                    if (u.Purging > 0)
                    {
                        long before = u.Units;
                        _arena.DropPurged(ref u, u.PersistedFloor);
                        _units += u.Units - before;
                    }
                    continue;
                }
                if (_evicted.TryGet(user.UserId, out var evicted))
                {
                    if (user.Version > evicted.PersistedVersion) evicted.PersistedVersion = user.Version;
                    if (user.SyncFloor > evicted.PersistedFloor) evicted.PersistedFloor = user.SyncFloor;
                    if (evicted.FullyPersisted && _evicted.TryTake(user.UserId, out _)) ReturnBatch(evicted.States);
                }
            }
        }
    }

    /// <summary>Puts still-dirty resident users back in the dirty queue after an abandoned write.</summary>
    public void Requeue(ReadOnlySpan<UserEntry> users)
    {
        using (_gate.Hold())
        {
            foreach (ref readonly var user in users)
                if (_index.TryGet(user.UserId, out int slot) && _slots[slot].IsDirty) MarkDirty(slot);
        }
    }

    /// <summary>Operations served from memory, retries after a load included (the engine subtracts those).</summary>
    public long Served => Volatile.Read(ref _served);

    public ShardStats GetStats()
    {
        using (_gate.Hold())
        {
            Debug.Assert(_dirtyResident >= 0 && _dirtyResident <= _index.Count, "dirty count out of range");
            return new ShardStats(_index.Count, _units, _evicted.Count, _queuedResident, _dirtyResident + _evicted.Count,
                _arena.ReservedCells, _arena.RentedCells, _arena.Mentions.ReservedWords, _loads, _evictions,
                _arena.Mentions.Overflowed, _lru.ProtectedCount);
        }
    }
}

internal readonly record struct ShardStats(
    int ResidentUsers, long ResidentUnits, int EvictedDirtyUsers, int QueuedDirtyUsers, int DirtyUsers,
    long ReservedStates, long RentedStates, long ReservedMentionWords, long Loads, long Evictions,
    long MentionOverflows, int ProtectedUsers);
