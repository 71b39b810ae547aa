namespace ReadStates.Core.Cache;

/// <summary>The read-state semantics, applied to a resident user under the shard lock.</summary>
internal sealed partial class Shard
{
    /// <summary>A call's version: the first change raises the user's version, later changes in the same call share it.</summary>
    private struct Stamp
    {
        public ulong Value;

        public ulong Next(ref UserSlot u) => Value != 0 ? Value : (Value = ++u.Version);
    }

    private int Find(in UserSlot u, ulong channelId)
    {
        var states = StatesOf(u);
        int lo = 0, hi = states.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ulong c = states[mid].ChannelId;
            if (c == channelId) return mid;
            if (c < channelId) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    private bool IsLive(in UserSlot u, int index) => index >= 0 && !_states.At(u.StatesStart + index).IsDeleted;

    private ref ReadState StateAt(in UserSlot u, int index) => ref _states.At(u.StatesStart + index);

    /// <summary>Returns the index of a live state for the channel, creating (or reviving) it with the attributes.</summary>
    private int GetOrCreate(ref UserSlot u, ulong channelId, in StateAttributes attributes, ulong version, out bool created)
    {
        int index = Find(u, channelId);
        created = !IsLive(u, index);
        if (!created) return index;
        long unitsBefore = u.Units;
        if (index < 0)
        {
            index = ~index;
            if (u.Count + 1 > _states.MaxBlock)
                throw new BackpressureException(false, $"User {u.UserId} has too many deletions waiting for the store; retry shortly.");
            if (u.StatesStart < 0 || u.Count + 1 > _states.ClassSize(u.StatesClass))
            {
                int cls = _states.ClassFor(u.Count + 1);
                int start = _states.Rent(cls);
                if (u.Count > 0)
                {
                    _states.Block(u.StatesStart, u.Count).CopyTo(_states.Block(start, u.Count));
                    _states.Return(u.StatesStart, u.StatesClass);
                }
                u.StatesStart = start;
                u.StatesClass = (byte)cls;
            }
            var block = _states.Block(u.StatesStart, u.Count + 1);
            block[index..u.Count].CopyTo(block[(index + 1)..]);
            u.Count++;
        }
        else
        {
            u.Tombstones--;
        }
        ref var s = ref StateAt(u, index);
        s = new ReadState
        {
            ChannelId = channelId,
            ParentId = attributes.ParentId ?? 0,
            Type = attributes.Type ?? ReadStateType.Channel,
            Flags = attributes.Flags ?? ReadStateFlags.None,
            LastViewed = attributes.LastViewed ?? 0,
            MentionBlock = -1,
            Version = version,
        };
        _units += u.Units - unitsBefore;
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

    private void CheckRoomFor(in UserSlot u, int newStates, string field)
    {
        if (u.Live + newStates > Options.MaxStatesPerUser)
            throw new LimitExceededException(field,
                $"User {u.UserId} would have {u.Live + newStates} read states; the limit is {Options.MaxStatesPerUser}.");
    }

    private AckResult AckOne(ref UserSlot u, in AckCommand cmd, ref Stamp stamp) => AckAt(ref u, Find(u, cmd.ChannelId), cmd, ref stamp);

    /// <summary>Applies an ack given the result of <see cref="Find"/> for its channel.</summary>
    private AckResult AckAt(ref UserSlot u, int index, in AckCommand cmd, ref Stamp stamp)
    {
        bool applied = true, changed;
        if (!IsLive(u, index))
        {
            index = GetOrCreate(ref u, cmd.ChannelId, cmd.Attributes, stamp.Next(ref u), out _);
            ref var created = ref StateAt(u, index);
            created.LastMessageId = cmd.MessageId;
            return new AckResult { Applied = true, State = created };
        }
        ref var s = ref StateAt(u, index);
        changed = false;
        if (cmd.MessageId > s.LastMessageId || (cmd.Manual && cmd.MessageId != s.LastMessageId))
        {
            s.LastMessageId = cmd.MessageId;
            if (s.MentionBlock >= 0) _mentions.AckTo(ref s, cmd.MessageId);
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

    private void Finish(int slot, in Stamp stamp)
    {
        if (stamp.Value == 0) return;
        MarkDirty(slot);
        EvictOverCapacity(slot);
    }

    public bool TryAck(ulong userId, in AckCommand cmd, out AckResult result)
    {
        lock (_lock)
        {
            int slot = Resolve(userId);
            if (slot < 0) { result = default; return false; }
            ref var u = ref _slots[slot];
            int index = Find(u, cmd.ChannelId);
            if (!IsLive(u, index)) CheckRoomFor(u, 1, "channel_id");
            var stamp = default(Stamp);
            result = AckAt(ref u, index, cmd, ref stamp);
            Finish(slot, stamp);
            return true;
        }
    }

    public bool TryBulkAck(ulong userId, ReadOnlySpan<AckCommand> cmds, Span<AckResult> results)
    {
        lock (_lock)
        {
            int slot = Resolve(userId);
            if (slot < 0) return false;
            ref var u = ref _slots[slot];
            int newStates = 0;
            for (int i = 0; i < cmds.Length; i++)
            {
                if (IsLive(u, Find(u, cmds[i].ChannelId))) continue;
                bool repeat = false;
                for (int j = 0; j < i && !repeat; j++) repeat = cmds[j].ChannelId == cmds[i].ChannelId;
                if (!repeat) newStates++;
            }
            if (newStates > 0) CheckRoomFor(u, newStates, "entries");
            var stamp = default(Stamp);
            for (int i = 0; i < cmds.Length; i++) results[i] = AckOne(ref u, cmds[i], ref stamp);
            Finish(slot, stamp);
            return true;
        }
    }

    public bool TryAckParent(ulong userId, ulong parentId, ulong messageId, out int acked)
    {
        lock (_lock)
        {
            acked = 0;
            int slot = Resolve(userId);
            if (slot < 0) return false;
            ref var u = ref _slots[slot];
            var stamp = default(Stamp);
            foreach (ref var s in StatesOf(u))
            {
                if (s.IsDeleted || s.ParentId != parentId || messageId <= s.LastMessageId) continue;
                s.LastMessageId = messageId;
                _mentions.AckTo(ref s, messageId);
                s.Version = stamp.Next(ref u);
                acked++;
            }
            Finish(slot, stamp);
            return true;
        }
    }

    public bool TryAckPins(ulong userId, ulong channelId, long timestamp, in StateAttributes attributes, out AckResult result)
    {
        lock (_lock)
        {
            int slot = Resolve(userId);
            if (slot < 0) { result = default; return false; }
            ref var u = ref _slots[slot];
            var stamp = default(Stamp);
            int index = Find(u, channelId);
            if (!IsLive(u, index))
            {
                CheckRoomFor(u, 1, "channel_id");
                index = GetOrCreate(ref u, channelId, attributes, stamp.Next(ref u), out _);
                ref var created = ref StateAt(u, index);
                created.LastPinTimestamp = timestamp;
                result = new AckResult { Applied = true, State = created };
            }
            else
            {
                ref var s = ref StateAt(u, index);
                bool applied = timestamp >= s.LastPinTimestamp;
                bool changed = false;
                if (timestamp > s.LastPinTimestamp) { s.LastPinTimestamp = timestamp; changed = true; }
                if (applied) changed |= ApplyAttributes(ref s, attributes);
                if (changed) s.Version = stamp.Next(ref u);
                result = new AckResult { Applied = applied, State = s };
            }
            Finish(slot, stamp);
            return true;
        }
    }

    public bool TryAddMention(ulong userId, ulong channelId, ulong messageId, in StateAttributes attributes, out MentionOutcome outcome)
    {
        lock (_lock)
        {
            int slot = Resolve(userId);
            if (slot < 0) { outcome = default; return false; }
            ref var u = ref _slots[slot];
            var stamp = default(Stamp);
            int index = Find(u, channelId);
            if (!IsLive(u, index))
            {
                if (u.Live + 1 > Options.MaxStatesPerUser) { outcome = MentionOutcome.AtLimit; return true; }
                index = GetOrCreate(ref u, channelId, attributes, stamp.Next(ref u), out _);
            }
            ref var s = ref StateAt(u, index);
            if (_mentions.Add(ref s, messageId))
            {
                s.Version = stamp.Next(ref u);
                outcome = MentionOutcome.Counted;
            }
            else
            {
                outcome = MentionOutcome.NotCounted;
            }
            Finish(slot, stamp);
            return true;
        }
    }

    public bool TryRemoveMention(ulong userId, ulong channelId, ulong messageId, out bool removed)
    {
        lock (_lock)
        {
            removed = false;
            int slot = Resolve(userId);
            if (slot < 0) return false;
            ref var u = ref _slots[slot];
            int index = Find(u, channelId);
            if (!IsLive(u, index)) return true;
            ref var s = ref StateAt(u, index);
            if (!_mentions.Remove(ref s, messageId)) return true;
            var stamp = default(Stamp);
            s.Version = stamp.Next(ref u);
            removed = true;
            Finish(slot, stamp);
            return true;
        }
    }

    public bool TryDelete(ulong userId, ReadOnlySpan<ulong> channelIds, bool all, out int deleted)
    {
        lock (_lock)
        {
            deleted = 0;
            int slot = Resolve(userId);
            if (slot < 0) return false;
            ref var u = ref _slots[slot];
            var stamp = default(Stamp);
            if (all)
            {
                foreach (ref var s in StatesOf(u))
                    if (!s.IsDeleted) { Tombstone(ref u, ref s, ref stamp); deleted++; }
            }
            else
            {
                foreach (ulong channelId in channelIds)
                {
                    int index = Find(u, channelId);
                    if (!IsLive(u, index)) continue;
                    Tombstone(ref u, ref StateAt(u, index), ref stamp);
                    deleted++;
                }
            }
            Finish(slot, stamp);
            return true;
        }
    }

    private void Tombstone(ref UserSlot u, ref ReadState s, ref Stamp stamp)
    {
        _mentions.Free(ref s);
        s.Flags |= ReadStateFlags.Deleted;
        s.Version = stamp.Next(ref u);
        u.Tombstones++;
    }
}

internal enum MentionOutcome : byte
{
    NotCounted,
    Counted,
    AtLimit,
}
