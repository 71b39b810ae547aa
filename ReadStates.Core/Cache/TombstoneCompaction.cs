namespace ReadStates.Core.Cache;

/// <summary>
/// When a user's tombstones are forgotten. A tombstone (channel, version of the deletion, deletion time)
/// lets a sync read report the deletion; compacting raises the user's <see cref="UserSlot.SyncFloor"/> to the
/// highest compacted version, so a sync from below the floor is answered "resync" instead of silently
/// missing it. Compacted tombstones stay in the block as <em>purging</em> until the store has deleted their
/// rows (write-behind carries them with the floor), then <see cref="StateArena.DropPurged"/> frees them.
/// Two reasons to compact: age (<see cref="EngineOptions.TombstoneRetention"/>) and count
/// (<see cref="EngineOptions.MaxTombstonesPerUser"/>, with hysteresis so a user at the cap does not pay a
/// scan on every delete).
/// WARNING: runs under the shard lock: copy and compute only, never allocate or call out.
/// </summary>
internal static class TombstoneCompaction
{
    /// <summary>Raises the floor to <paramref name="floor"/>: tombstones at or below it become purging. False when it was already there.</summary>
    public static bool RaiseFloor(StateArena arena, ref UserSlot u, ulong floor)
    {
        if (floor <= u.SyncFloor) return false;
        foreach (ref readonly var c in arena.Of(u))
        {
            ref readonly var s = ref c.State;
            if (s.IsDeleted && s.Version > u.SyncFloor && s.Version <= floor) u.Purging++;
        }
        u.SyncFloor = floor;
        return true;
    }

    /// <summary>Compacts the tombstones deleted at or before <paramref name="nowMs"/> − retention. True when the floor rose.</summary>
    public static bool ExpireOld(StateArena arena, ref UserSlot u, long nowMs, long retentionMs)
    {
        if (u.Retained == 0) return false;
        long cutoff = nowMs - retentionMs;
        ulong floor = u.SyncFloor;
        foreach (ref readonly var c in arena.Of(u))
        {
            ref readonly var s = ref c.State;
            // Versions rise with time, so every tombstone below the newest expired one is at least about as
            // old: compacting it too is what a floor means (a clock step back only compacts a little early).
            if (s.IsDeleted && s.Version > floor && s.DeletedAt <= cutoff) floor = s.Version;
        }
        return RaiseFloor(arena, ref u, floor);
    }

    /// <summary>
    /// Past <paramref name="cap"/> retained tombstones, compacts the oldest (lowest versions) down to three
    /// quarters of the cap. True when the floor rose.
    /// </summary>
    public static bool EnforceCap(StateArena arena, ref UserSlot u, int cap)
    {
        if (u.Retained <= cap) return false;
        int target = Math.Max(1, cap - cap / 4);
        int drop = u.Retained - target;
        // The smallest version T that has at least `drop` retained tombstones at or below it: a binary search
        // over versions, counting in place (the block is sorted by channel, not version, and there is no
        // scratch to sort into under the lock). At most 64 passes, and only when the cap is crossed.
        ulong lo = u.SyncFloor + 1, hi = u.Version;
        while (lo < hi)
        {
            ulong mid = lo + (hi - lo) / 2;
            if (CountRetainedAtOrBelow(arena, u, mid) >= drop) hi = mid; else lo = mid + 1;
        }
        return RaiseFloor(arena, ref u, lo);
    }

    private static int CountRetainedAtOrBelow(StateArena arena, in UserSlot u, ulong version)
    {
        int n = 0;
        foreach (ref readonly var c in arena.Of(u))
            if (c.State.IsDeleted && c.State.Version > u.SyncFloor && c.State.Version <= version) n++;
        return n;
    }
}
