using Microsoft.Extensions.Logging;
using ReadStates.Core.Memory;
using ReadStates.Core.Storage;

namespace ReadStates.Core.Cache;

/// <summary>
/// One shard of the cache: users in a struct array indexed by an open-addressing map, linked in LRU
/// order, their states in a pooled arena. Every method takes the shard lock for a short, I/O-free
/// critical section; store loads and writes happen outside it.
/// </summary>
internal sealed partial class Shard
{
    private readonly Lock _lock = new();
    private readonly EngineShared _shared;
    private readonly long _capacity;
    private readonly SlabPool<ReadState> _states;
    private readonly MentionStore _mentions;
    private readonly UserIndex _index = new();
    private readonly Dictionary<ulong, EvictedUser> _evicted = [];
    private readonly Dictionary<ulong, Task> _loading = [];
    private readonly Stack<StateBatch> _spareBatches = new();

    private UserSlot[] _slots = new UserSlot[64];
    private int _slotHigh;
    private int _freeSlot = -1;
    private int _head = -1;
    private int _tail = -1;
    private long _units;
    private ulong[] _dirty = new ulong[64];
    private int _dirtyCount;
    private long _loads;
    private uint _tick;
    private long _evictions;

    public Shard(EngineShared shared, long capacity)
    {
        _shared = shared;
        _capacity = capacity;
        _states = new SlabPool<ReadState>(1, SlabPool<ReadState>.ChunkSize);
        _mentions = new MentionStore(shared.Options.MentionIdCap);
    }

    private EngineOptions Options => _shared.Options;

    // ---- slots and LRU -------------------------------------------------------------------------

    private int AllocSlot()
    {
        if (_freeSlot >= 0)
        {
            int s = _freeSlot;
            _freeSlot = _slots[s].Next;
            return s;
        }
        if (_slotHigh == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
        return _slotHigh++;
    }

    private void PushFront(int slot)
    {
        ref var u = ref _slots[slot];
        u.Prev = -1;
        u.Next = _head;
        if (_head >= 0) _slots[_head].Prev = slot;
        _head = slot;
        if (_tail < 0) _tail = slot;
    }

    private void Unlink(int slot)
    {
        ref var u = ref _slots[slot];
        if (u.Prev >= 0) _slots[u.Prev].Next = u.Next; else _head = u.Next;
        if (u.Next >= 0) _slots[u.Next].Prev = u.Prev; else _tail = u.Prev;
    }

    /// <summary>
    /// Marks an access. A user promoted to the head within the last eighth of the resident users'
    /// worth of accesses is still near the head (at most that many users were promoted past it), so it
    /// is left in place: hot users cost a compare instead of relinking four slots on every call.
    /// </summary>
    private void Touch(int slot)
    {
        uint tick = ++_tick;
        ref var u = ref _slots[slot];
        if (tick - u.PromotedAt < (uint)Math.Max(2, _index.Count >> 3)) return;
        u.PromotedAt = tick;
        if (_head == slot) return;
        Unlink(slot);
        PushFront(slot);
    }

    /// <summary>The resident slot of a user, reinstating an evicted dirty user from memory; -1 when it needs a store load.</summary>
    private int Resolve(ulong userId)
    {
        if (_index.TryGet(userId, out int slot))
        {
            Touch(slot);
            return slot;
        }
        if (_evicted.Count > 0 && _evicted.Remove(userId, out var evicted))
        {
            _shared.AddBacklog(-evicted.Units);
            slot = InsertUser(userId, evicted.States, evicted.PersistedVersion);
            ReturnBatch(evicted.States);
            MarkDirty(slot);
            EvictOverCapacity(slot);
            return slot;
        }
        return -1;
    }

    private void MarkDirty(int slot)
    {
        ref var u = ref _slots[slot];
        if (u.Queued) return;
        u.Queued = true;
        if (_dirtyCount == _dirty.Length) Array.Resize(ref _dirty, _dirty.Length * 2);
        _dirty[_dirtyCount++] = u.UserId;
    }

    private Span<ReadState> StatesOf(in UserSlot u) => u.Count == 0 ? default : _states.Block(u.StatesStart, u.Count);

    // ---- insert and evict ----------------------------------------------------------------------

    /// <summary>Makes a user resident from a one-user batch (a store load, or an evicted user's copy).</summary>
    private int InsertUser(ulong userId, StateBatch batch, ulong? persistedVersion)
    {
        ulong version = 0;
        ReadOnlySpan<StoredState> stored = default;
        if (batch.UserCount > 0)
        {
            var entry = batch.Users[0];
            version = entry.Version;
            stored = batch.StatesOf(entry);
        }

        int slot = AllocSlot();
        ref var u = ref _slots[slot];
        u = new UserSlot
        {
            UserId = userId,
            Version = version,
            PersistedVersion = persistedVersion ?? version,
            StatesStart = -1,
            Prev = -1,
            Next = -1,
        };
        if (stored.Length > 0)
        {
            u.StatesClass = (byte)_states.ClassFor(stored.Length);
            u.StatesStart = _states.Rent(u.StatesClass);
            u.Count = stored.Length;
            var dst = _states.Block(u.StatesStart, stored.Length);
            bool sorted = true;
            for (int i = 0; i < stored.Length; i++)
            {
                ref readonly var s = ref stored[i];
                dst[i] = s.State;
                _mentions.Restore(ref dst[i], batch.MentionsOf(s), s.OverflowCount, s.OverflowMaxId);
                if (s.IsDeleted) u.Tombstones++;
                if (i > 0 && dst[i - 1].ChannelId >= dst[i].ChannelId) sorted = false;
            }
            if (!sorted) dst.Sort(static (a, b) => a.ChannelId.CompareTo(b.ChannelId));
        }
        _index.Add(userId, slot);
        u.PromotedAt = ++_tick;
        PushFront(slot);
        _units += u.Units;
        return slot;
    }

    private void EvictOverCapacity(int protectedSlot)
    {
        while (_units > _capacity)
        {
            int victim = _tail;
            if (victim == protectedSlot) victim = _slots[victim].Prev;
            if (victim < 0) return;
            Evict(victim);
        }
    }

    private void Evict(int slot)
    {
        _evictions++;
        ref var u = ref _slots[slot];
        var states = StatesOf(u);
        if (u.IsDirty)
        {
            var copy = RentBatch();
            copy.BeginUser(u.UserId, u.Version);
            foreach (ref readonly var s in states)
            {
                var (overflow, maxId) = _mentions.OverflowOf(s);
                copy.AddState(s, overflow, maxId, _mentions.HeldIds(s));
            }
            var evicted = new EvictedUser(u.UserId, copy, u.Version, u.PersistedVersion);
            _evicted[u.UserId] = evicted;
            _shared.AddBacklog(evicted.Units);
            if (_shared.Backlog > Options.MaxBacklogStates / 4) _shared.WakeFlusher?.Invoke();
        }
        foreach (ref var s in states) _mentions.Free(ref s);
        if (u.StatesStart >= 0) _states.Return(u.StatesStart, u.StatesClass);
        _index.Remove(u.UserId);
        Unlink(slot);
        _units -= u.Units;
        u = default;
        u.Next = _freeSlot;
        _freeSlot = slot;
    }

    // A few batches per shard serve loads and evicted copies, so misses and evictions don't
    // allocate a batch (several KB) each time. Callers hold the shard lock.
    private const int MaxSpareBatches = 4;

    private StateBatch RentBatch() => _spareBatches.TryPop(out var batch) ? batch : new StateBatch();

    private void ReturnBatch(StateBatch batch)
    {
        batch.Clear();
        if (_spareBatches.Count < MaxSpareBatches) _spareBatches.Push(batch);
    }

    // ---- loads ---------------------------------------------------------------------------------

    /// <summary>Makes the user resident. Concurrent misses on one user share one store load.</summary>
    public Task LoadAsync(ulong userId, CancellationToken cancellationToken)
    {
        TaskCompletionSource tcs;
        lock (_lock)
        {
            if (_index.TryGet(userId, out _) || _evicted.ContainsKey(userId)) return Task.CompletedTask;
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
        lock (_lock) batch = RentBatch();
        try
        {
            await _shared.Store.LoadUserAsync(userId, batch, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            lock (_lock)
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
            lock (_lock)
            {
                _loading.Remove(userId);
                _loads++;
                if (!_index.TryGet(userId, out _) && !_evicted.ContainsKey(userId))
                {
                    int slot = InsertUser(userId, batch, null);
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

    // ---- write-behind --------------------------------------------------------------------------

    /// <summary>Copies dirty users (resident ones from the dirty queue, then evicted ones) into the batch, up to its user limit.</summary>
    public void CollectDirty(StateBatch batch, int maxUsers, long cycle)
    {
        lock (_lock)
        {
            while (_dirtyCount > 0 && batch.UserCount < maxUsers)
            {
                ulong userId = _dirty[--_dirtyCount];
                if (!_index.TryGet(userId, out int slot)) continue;
                ref var u = ref _slots[slot];
                u.Queued = false;
                if (!u.IsDirty) continue;
                batch.BeginUser(u.UserId, u.Version);
                foreach (ref readonly var s in StatesOf(u))
                {
                    if (s.Version <= u.PersistedVersion) continue;
                    var (overflow, maxId) = _mentions.OverflowOf(s);
                    batch.AddState(s, overflow, maxId, _mentions.HeldIds(s));
                }
            }
            if (_evicted.Count == 0) return;
            foreach (var evicted in _evicted.Values)
            {
                if (batch.UserCount >= maxUsers) return;
                if (evicted.CollectedInCycle == cycle) continue;
                evicted.CollectedInCycle = cycle;
                batch.BeginUser(evicted.UserId, evicted.Version);
                var copy = evicted.States;
                foreach (ref readonly var s in copy.States)
                {
                    if (s.State.Version <= evicted.PersistedVersion) continue;
                    batch.AddState(s.State, s.OverflowCount, s.OverflowMaxId, copy.MentionsOf(s));
                }
            }
        }
    }

    /// <summary>The store has the user up to <paramref name="version"/>: advance, drop written tombstones, release evicted copies.</summary>
    public void MarkPersisted(ulong userId, ulong version)
    {
        lock (_lock)
        {
            if (_index.TryGet(userId, out int slot))
            {
                ref var u = ref _slots[slot];
                if (version <= u.PersistedVersion) return;
                u.PersistedVersion = version;
                if (u.Tombstones > 0) CompactTombstones(ref u);
                return;
            }
            if (_evicted.TryGetValue(userId, out var evicted) && version > evicted.PersistedVersion)
            {
                evicted.PersistedVersion = version;
                if (evicted.Version <= version)
                {
                    _evicted.Remove(userId);
                    _shared.AddBacklog(-evicted.Units);
                    ReturnBatch(evicted.States);
                }
            }
        }
    }

    /// <summary>Puts a still-dirty resident user back in the dirty queue after an abandoned write.</summary>
    public void Requeue(ulong userId)
    {
        lock (_lock)
        {
            if (_index.TryGet(userId, out int slot) && _slots[slot].IsDirty) MarkDirty(slot);
        }
    }

    private void CompactTombstones(ref UserSlot u)
    {
        long before = u.Units;
        var states = StatesOf(u);
        int kept = 0;
        for (int i = 0; i < states.Length; i++)
        {
            if (states[i].IsDeleted && states[i].Version <= u.PersistedVersion) continue;
            states[kept++] = states[i];
        }
        u.Tombstones -= states.Length - kept;
        u.Count = kept;
        if (kept == 0 && u.StatesStart >= 0)
        {
            _states.Return(u.StatesStart, u.StatesClass);
            u.StatesStart = -1;
        }
        _units += u.Units - before;
    }

    public ShardStats GetStats()
    {
        lock (_lock)
        {
            return new ShardStats(_index.Count, _units, _evicted.Count, _dirtyCount,
                _states.ReservedElements, _states.RentedElements, _mentions.ReservedWords, _loads, _evictions, _mentions.Overflows);
        }
    }
}

internal readonly record struct ShardStats(
    int ResidentUsers, long ResidentUnits, int EvictedDirtyUsers, int QueuedDirtyUsers,
    long ReservedStates, long RentedStates, long ReservedMentionWords, long Loads, long Evictions, long MentionOverflows);
