using ReadStates.Core.Sync;

namespace ReadStates.Core.Cache;

/// <summary>The shard's part in multi-device sync: sync reads, watcher registration, and aging tombstones out.</summary>
internal sealed partial class Shard
{
    private const int SweepSlotsPerLock = 1024;

    /// <summary>
    /// Copies the user's totals and its changes after <paramref name="since"/> (or only its version, when null)
    /// into <paramref name="into"/>; false when the user needs a load.
    /// </summary>
    public bool TryReadChanges(ulong userId, ulong? since, ReadOnlySpan<ulong> channelIds, UserSnapshot into)
    {
        using (_gate.Hold())
        {
            ref var u = ref Resolve(userId, out int slot);
            if (slot < 0) return false;
            UserReader.ReadChanges(_arena, u, since, channelIds, into);
            return true;
        }
    }

    /// <summary>Registers a subscription: every later change of its user marks it pending.</summary>
    public void Watch(ChangeSubscription subscription)
    {
        using (_gate.Hold()) _watchers.Add(subscription);
    }

    public bool Unwatch(ChangeSubscription subscription)
    {
        using (_gate.Hold()) return _watchers.Remove(subscription);
    }

    public int WatchedUsers
    {
        get { using (_gate.Hold()) return _watchers.Count; }
    }

    /// <summary>
    /// Compacts the tombstones of resident users that outlived the retention, a slice of slots per lock hold
    /// so writers never wait behind a whole shard. Users whose floor rose become dirty: write-behind purges
    /// the rows. Returns how many users were compacted. (Evicted and never-loaded users are compacted when
    /// they are next loaded.)
    /// </summary>
    public int SweepTombstones(long nowMs, long retentionMs)
    {
        int compacted = 0;
        int high;
        using (_gate.Hold()) high = _slotHigh;
        for (int start = 0; start < high; start += SweepSlotsPerLock)
        {
            using (_gate.Hold())
            {
                int end = Math.Min(_slotHigh, start + SweepSlotsPerLock);
                for (int slot = start; slot < end; slot++)
                {
                    ref var u = ref _slots[slot];
                    if (u.UserId == 0 || u.Retained == 0) continue;
                    long before = u.Units;
                    bool wasDirty = u.IsDirty;
                    if (!TombstoneCompaction.ExpireOld(_arena, ref u, nowMs, retentionMs)) continue;
                    _units += u.Units - before;
                    if (!wasDirty && u.IsDirty) _dirtyResident++;
                    MarkDirty(slot);
                    compacted++;
                }
            }
        }
        return compacted;
    }
}
