using ReadStates.Core.Durability;
using ReadStates.Core.Storage;

namespace ReadStates.Core.Cache;

/// <summary>
/// The shard's side of the change log: in durable mode every call's changed states are copied into the
/// shard's log buffer under the shard lock (physical redo: the states as they are after the call), and
/// unwritten changes can be written out again (a spill at shutdown, a rewrite after a log failure, users
/// whose store write keeps failing).
/// </summary>
internal sealed partial class Shard
{
    private ShardLog? _log;

    /// <summary>Durable mode: from now on every change is recorded in <paramref name="log"/>.</summary>
    public void AttachLog(ShardLog log)
    {
        using (_gate.Hold()) _log = log;
    }

    /// <summary>
    /// After a call (shard lock held): records the states it changed, those stamped with its version, and
    /// leaves the thread a ticket for the group commit that makes the call durable. A call that changed
    /// nothing still waits for this shard's last record, which may hold the change it reports.
    /// WARNING: runs under the shard lock: encode into the pooled buffer only, never allocate or block.
    /// </summary>
    private void LogCall(int slot, in Stamp stamp)
    {
        AssertLocked();
        var log = _log!;
        if (!stamp.Changed)
        {
            ChangeLog.SetTicket(log.LastEpoch);
            return;
        }
        ref readonly var u = ref _slots[slot];
        lock (log.Gate)
        {
            var buffer = log.Current;
            buffer.BeginRecord(u.UserId, u.Version);
            foreach (ref readonly var c in _arena.Of(u))
            {
                if (c.State.Version != stamp.Value) continue;
                var (overflow, maxId) = _arena.Mentions.OverflowOf(c);
                buffer.AddState(c.State, overflow, maxId, _arena.Mentions.HeldIds(c));
            }
            buffer.EndRecord();
            log.LastEpoch = log.Owner.OpenEpoch;
        }
        ChangeLog.SetTicket(log.LastEpoch);
    }

    /// <summary>
    /// Writes a record of every user with changes the store does not have (resident and evicted), holding
    /// those changed states, into <paramref name="into"/>; or, when it is null, into the shard's live log
    /// buffer, leaving a ticket. Only the users in <paramref name="only"/> when given. Returns users and states.
    /// </summary>
    public (int Users, long States) RelogDirty(LogBuffer? into, IReadOnlySet<ulong>? only = null)
    {
        using (_gate.Hold())
        {
            var log = into is null ? _log : null;
            if (into is null && log is null) return (0, 0);
            int users = 0;
            long states = 0;
            if (log is not null) log.Gate.Enter();
            try
            {
                var buffer = into ?? log!.Current;
                for (int slot = 0; slot < _slotHigh; slot++)
                {
                    ref readonly var u = ref _slots[slot];
                    if (u.UserId == 0 || !u.IsDirty || (only is not null && !only.Contains(u.UserId))) continue;
                    buffer.BeginRecord(u.UserId, u.Version);
                    foreach (ref readonly var c in _arena.Of(u))
                    {
                        if (c.State.Version <= u.PersistedVersion) continue;
                        var (overflow, maxId) = _arena.Mentions.OverflowOf(c);
                        buffer.AddState(c.State, overflow, maxId, _arena.Mentions.HeldIds(c));
                    }
                    states += buffer.OpenRecordStates;
                    buffer.EndRecord();
                    users++;
                }
                foreach (var evicted in _evicted.All)
                {
                    if (only is not null && !only.Contains(evicted.UserId)) continue;
                    buffer.BeginRecord(evicted.UserId, evicted.Version);
                    var copy = evicted.States;
                    foreach (ref readonly var s in copy.States)
                        if (s.State.Version > evicted.PersistedVersion) buffer.AddState(s.State, s.OverflowCount, s.OverflowMaxId, copy.MentionsOf(s));
                    states += buffer.OpenRecordStates;
                    buffer.EndRecord();
                    users++;
                }
                if (log is not null && users > 0) log.LastEpoch = log.Owner.OpenEpoch;
            }
            finally
            {
                if (log is not null) log.Gate.Exit();
            }
            if (log is not null) ChangeLog.SetTicket(log.LastEpoch);
            return (users, states);
        }
    }

    /// <summary>Distinct users with changes the store does not have, and how many states those changes are.</summary>
    public (int Users, long States) CountDirty()
    {
        using (_gate.Hold())
        {
            int users = 0;
            long states = 0;
            for (int slot = 0; slot < _slotHigh; slot++)
            {
                ref readonly var u = ref _slots[slot];
                if (u.UserId == 0 || !u.IsDirty) continue;
                users++;
                foreach (ref readonly var c in _arena.Of(u))
                    if (c.State.Version > u.PersistedVersion) states++;
            }
            foreach (var evicted in _evicted.All)
            {
                users++;
                foreach (ref readonly var s in evicted.States.States)
                    if (s.State.Version > evicted.PersistedVersion) states++;
            }
            return (users, states);
        }
    }
}
