using System.Diagnostics.CodeAnalysis;

namespace ReadStates.Core.Cache;

/// <summary>A call's version: the first change raises the user's version, later changes in the same call share it.</summary>
internal struct Stamp
{
    public ulong Value;

    public ulong Next(ref UserSlot u) => Value != 0 ? Value : (Value = ++u.Version);

    public readonly bool Changed => Value != 0;
}

/// <summary>
/// The read-state semantics (DESIGN.md's API table) applied to one resident user's states. Every rule
/// either changes nothing and throws before the first change (limits, conditional-write preconditions), or
/// applies completely. A precondition compares a state's version (0 = no live state there) or the user's.
/// WARNING: runs under the shard lock: copy and compute only, never allocate or call out.
/// </summary>
internal static class StateRules
{
    public static AckResult Ack(StateArena arena, ref UserSlot u, in AckCommand cmd, int maxStates, ref Stamp stamp)
    {
        // The hot path of the service: one search, then the cell by reference (no second lookup).
        var cells = arena.Of(u);
        int index = StateArena.Find(cells, cmd.ChannelId);
        if (cmd.ExpectedVersion is { } expected) Expect(arena, u, index, cmd.ChannelId, expected, entryIndex: -1);
        if (index >= 0 && !cells[index].State.IsDeleted) return AckLive(arena, ref u, ref cells[index], cmd, ref stamp);
        CheckRoom(u, 1, maxStates, entryIndex: -1);
        return AckNew(arena, ref u, index, cmd, ref stamp);
    }

    public static void BulkAck(StateArena arena, ref UserSlot u, ReadOnlySpan<AckCommand> cmds, Span<AckResult> results, int maxStates, ref Stamp stamp)
    {
        int newStates = 0;
        // Every entry's precondition against the states as they are before the call, before any change.
        for (int i = 0; i < cmds.Length; i++)
            if (cmds[i].ExpectedVersion is { } expected) Expect(arena, u, arena.Find(u, cmds[i].ChannelId), cmds[i].ChannelId, expected, entryIndex: i);
        for (int i = 0; i < cmds.Length; i++)
        {
            if (arena.IsLive(u, arena.Find(u, cmds[i].ChannelId))) continue;
            bool repeat = false;
            for (int j = 0; j < i && !repeat; j++) repeat = cmds[j].ChannelId == cmds[i].ChannelId;
            if (repeat) continue;
            newStates++;
            // The entry that would pass the limit is the one to name.
            if (u.Live + newStates > maxStates) CheckRoom(u, newStates, maxStates, entryIndex: i);
        }
        for (int i = 0; i < cmds.Length; i++) results[i] = AckAt(arena, ref u, arena.Find(u, cmds[i].ChannelId), cmds[i], ref stamp);
    }

    public static int AckParent(StateArena arena, ref UserSlot u, ulong parentId, ulong messageId, ulong? expectedUserVersion, ref Stamp stamp)
    {
        if (expectedUserVersion is { } expected && expected != u.Version) ThrowMismatch(u.UserId, 0, expected, u.Version, -1);
        int acked = 0;
        foreach (ref var c in arena.Of(u))
        {
            ref var s = ref c.State;
            if (s.IsDeleted || s.ParentId != parentId || messageId <= s.LastMessageId) continue;
            s.LastMessageId = messageId;
            arena.Mentions.AckTo(ref c, messageId);
            s.Version = stamp.Next(ref u);
            acked++;
        }
        return acked;
    }

    public static AckResult AckPins(StateArena arena, ref UserSlot u, ulong channelId, long timestamp, in StateAttributes attributes, ulong? expectedVersion,
        int maxStates, ref Stamp stamp)
    {
        int index = arena.Find(u, channelId);
        if (expectedVersion is { } expected) Expect(arena, u, index, channelId, expected, entryIndex: -1);
        if (!arena.IsLive(u, index))
        {
            CheckRoom(u, 1, maxStates, entryIndex: -1);
            index = Create(arena, ref u, index, channelId, attributes, stamp.Next(ref u));
            ref var created = ref arena.At(u, index).State;
            created.LastPinTimestamp = timestamp;
            return new AckResult { Applied = true, State = created };
        }
        ref var s = ref arena.At(u, index).State;
        bool applied = timestamp >= s.LastPinTimestamp;
        bool changed = false;
        if (timestamp > s.LastPinTimestamp) { s.LastPinTimestamp = timestamp; changed = true; }
        if (applied) changed |= ApplyAttributes(ref s, attributes);
        if (changed) s.Version = stamp.Next(ref u);
        return new AckResult { Applied = applied, State = s };
    }

    public static MentionOutcome AddMention(StateArena arena, ref UserSlot u, ulong channelId, ulong messageId, in StateAttributes attributes, int maxStates, ref Stamp stamp)
    {
        int index = arena.Find(u, channelId);
        if (!arena.IsLive(u, index))
        {
            if (u.Live + 1 > maxStates) return MentionOutcome.AtLimit;
            index = Create(arena, ref u, index, channelId, attributes, stamp.Next(ref u));
        }
        ref var c = ref arena.At(u, index);
        if (!arena.Mentions.Add(ref c, messageId)) return MentionOutcome.NotCounted;
        c.State.Version = stamp.Next(ref u);
        return MentionOutcome.Counted;
    }

    public static bool RemoveMention(StateArena arena, ref UserSlot u, ulong channelId, ulong messageId, ref Stamp stamp)
    {
        int index = arena.Find(u, channelId);
        if (!arena.IsLive(u, index)) return false;
        ref var c = ref arena.At(u, index);
        if (!arena.Mentions.Remove(ref c, messageId)) return false;
        c.State.Version = stamp.Next(ref u);
        return true;
    }

    /// <summary>
    /// Tombstones the listed live states (or all): each keeps its channel, the call's version and
    /// <paramref name="nowMs"/> until compacted. <paramref name="expectedVersions"/> (empty, or one per channel)
    /// and <paramref name="expectedUserVersion"/> are preconditions checked before any change.
    /// </summary>
    public static int Delete(StateArena arena, ref UserSlot u, ReadOnlySpan<ulong> channelIds, bool all, ReadOnlySpan<ulong> expectedVersions,
        ulong? expectedUserVersion, long nowMs, int maxTombstones, ref Stamp stamp)
    {
        if (expectedUserVersion is { } expectedUser && expectedUser != u.Version) ThrowMismatch(u.UserId, 0, expectedUser, u.Version, -1);
        for (int i = 0; i < expectedVersions.Length && i < channelIds.Length; i++)
            Expect(arena, u, arena.Find(u, channelIds[i]), channelIds[i], expectedVersions[i], entryIndex: i);
        int deleted = 0;
        if (all)
        {
            foreach (ref var c in arena.Of(u))
                if (!c.State.IsDeleted) { Tombstone(arena, ref u, ref c, nowMs, ref stamp); deleted++; }
        }
        else
        {
            foreach (ulong channelId in channelIds)
            {
                int index = arena.Find(u, channelId);
                if (!arena.IsLive(u, index)) continue;
                Tombstone(arena, ref u, ref arena.At(u, index), nowMs, ref stamp);
                deleted++;
            }
        }
        if (deleted > 0) TombstoneCompaction.EnforceCap(arena, ref u, maxTombstones);
        return deleted;
    }

    /// <summary>Applies an ack given the result of <see cref="StateArena.Find(in UserSlot, ulong)"/> for its channel.</summary>
    private static AckResult AckAt(StateArena arena, ref UserSlot u, int index, in AckCommand cmd, ref Stamp stamp) =>
        arena.IsLive(u, index) ? AckLive(arena, ref u, ref arena.At(u, index), cmd, ref stamp) : AckNew(arena, ref u, index, cmd, ref stamp);

    private static AckResult AckNew(StateArena arena, ref UserSlot u, int index, in AckCommand cmd, ref Stamp stamp)
    {
        index = Create(arena, ref u, index, cmd.ChannelId, cmd.Attributes, stamp.Next(ref u));
        ref var created = ref arena.At(u, index).State;
        created.LastMessageId = cmd.MessageId;
        return new AckResult { Applied = true, State = created };
    }

    private static AckResult AckLive(StateArena arena, ref UserSlot u, ref CachedState c, in AckCommand cmd, ref Stamp stamp)
    {
        ref var s = ref c.State;
        bool applied = true, changed = false;
        if (cmd.MessageId > s.LastMessageId || (cmd.Manual && cmd.MessageId != s.LastMessageId))
        {
            s.LastMessageId = cmd.MessageId;
            arena.Mentions.AckTo(ref c, cmd.MessageId);
            changed = true;
        }
        else if (cmd.MessageId < s.LastMessageId)
        {
            applied = false;
        }
        if (applied && !cmd.Attributes.IsEmpty) changed |= ApplyAttributes(ref s, cmd.Attributes);
        if (changed) s.Version = stamp.Next(ref u);
        return new AckResult { Applied = applied, State = s };
    }

    /// <summary>Makes a live state for the channel at <paramref name="index"/> (a <see cref="StateArena.Find"/> result): a new cell, or a revived tombstone.</summary>
    private static int Create(StateArena arena, ref UserSlot u, int index, ulong channelId, in StateAttributes attributes, ulong version)
    {
        if (index < 0)
        {
            index = ~index;
            arena.InsertAt(ref u, index);
        }
        else
        {
            // Reviving a tombstone: a purging one's store row is simply overwritten by the new state.
            u.Tombstones--;
            if (arena.At(u, index).State.Version <= u.SyncFloor) u.Purging--;
        }
        // Field by field in place, not through a temporary (see CachedState.Set).
        ref var cell = ref arena.At(u, index);
        cell = default;
        cell.State.ChannelId = channelId;
        cell.State.ParentId = attributes.ParentId ?? 0;
        cell.State.Type = attributes.Type ?? ReadStateType.Channel;
        cell.State.Flags = attributes.Flags ?? ReadStateFlags.None;
        cell.State.LastViewed = attributes.LastViewed ?? 0;
        cell.State.Version = version;
        return index;
    }

    private static bool ApplyAttributes(ref ReadState s, in StateAttributes a)
    {
        bool changed = false;
        if (a.Type is { } type && type != s.Type) { s.Type = type; changed = true; }
        if (a.ParentId is { } parent && parent != s.ParentId) { s.ParentId = parent; changed = true; }
        if (a.Flags is { } flags && flags != (s.Flags & ReadState.PublicFlags)) { s.Flags = flags; changed = true; }
        if (a.LastViewed is { } viewed && viewed != s.LastViewed) { s.LastViewed = viewed; changed = true; }
        return changed;
    }

    private static void Tombstone(StateArena arena, ref UserSlot u, ref CachedState c, long nowMs, ref Stamp stamp)
    {
        arena.Mentions.Free(ref c);
        c.State = ReadState.Tombstone(c.State.ChannelId, stamp.Next(ref u), nowMs);
        u.Tombstones++;
    }

    /// <summary>A precondition on one state: its version now (0 when there is no live state) must be <paramref name="expected"/>.</summary>
    private static void Expect(StateArena arena, in UserSlot u, int index, ulong channelId, ulong expected, int entryIndex)
    {
        ulong current = arena.IsLive(u, index) ? arena.At(u, index).State.Version : 0;
        if (current != expected) ThrowMismatch(u.UserId, channelId, expected, current, entryIndex);
    }

    [DoesNotReturn]
    private static void ThrowMismatch(ulong userId, ulong channelId, ulong expected, ulong current, int entryIndex) =>
        throw new VersionMismatchException(userId, channelId, expected, current, entryIndex);

    private static void CheckRoom(in UserSlot u, int newStates, int maxStates, int entryIndex)
    {
        if (u.Live + newStates > maxStates) throw new StateLimitException(u.UserId, u.Live + newStates, maxStates, entryIndex);
    }
}

internal enum MentionOutcome : byte
{
    NotCounted,
    Counted,
    AtLimit,
}
