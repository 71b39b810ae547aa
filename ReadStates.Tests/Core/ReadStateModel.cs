using ReadStates.Core;

namespace ReadStates.Tests.Core;

/// <summary>The plain, obviously-correct model the engine is checked against (no mention cap, no cache).</summary>
internal sealed class ReadStateModel
{
    public sealed class MState
    {
        public ulong Last, Parent, Version;
        public long Pin;
        public int LastViewed;
        public ReadStateType Type;
        public ReadStateFlags Flags;
        public SortedSet<ulong> Mentions { get; } = [];
    }

    public sealed class MUser
    {
        public ulong Version;
        public SortedDictionary<ulong, MState> States { get; } = [];
    }

    public Dictionary<ulong, MUser> Users { get; } = [];
    public int MaxStatesPerUser { get; init; } = int.MaxValue;

    private MUser User(ulong id) => Users.TryGetValue(id, out var u) ? u : Users[id] = new MUser();

    private struct Stamp(MUser user)
    {
        private ulong _value;
        public ulong Next() => _value != 0 ? _value : (_value = ++user.Version);
    }

    private static MState Create(StateAttributes a) => new()
    {
        Parent = a.ParentId ?? 0,
        Type = a.Type ?? ReadStateType.Channel,
        Flags = a.Flags ?? ReadStateFlags.None,
        LastViewed = a.LastViewed ?? 0,
    };

    private static bool Apply(MState s, StateAttributes a)
    {
        bool changed = false;
        if (a.Type is { } t && t != s.Type) { s.Type = t; changed = true; }
        if (a.ParentId is { } p && p != s.Parent) { s.Parent = p; changed = true; }
        if (a.Flags is { } f && f != s.Flags) { s.Flags = f; changed = true; }
        if (a.LastViewed is { } v && v != s.LastViewed) { s.LastViewed = v; changed = true; }
        return changed;
    }

    /// <summary>Returns false when the call must fail with a limit error (and then changes nothing).</summary>
    public bool BulkAck(ulong userId, IReadOnlyList<AckCommand> cmds, List<bool>? applied = null)
    {
        var u = User(userId);
        int newStates = cmds.Select(c => c.ChannelId).Distinct().Count(c => !u.States.ContainsKey(c));
        if (u.States.Count + newStates > MaxStatesPerUser) return false;
        var stamp = new Stamp(u);
        foreach (var c in cmds)
        {
            if (!u.States.TryGetValue(c.ChannelId, out var s))
            {
                s = Create(c.Attributes);
                s.Last = c.MessageId;
                s.Version = stamp.Next();
                u.States[c.ChannelId] = s;
                applied?.Add(true);
                continue;
            }
            bool ok = true, changed = false;
            if (c.MessageId > s.Last || (c.Manual && c.MessageId != s.Last))
            {
                s.Last = c.MessageId;
                s.Mentions.RemoveWhere(m => m <= c.MessageId);
                changed = true;
            }
            else if (c.MessageId < s.Last)
            {
                ok = false;
            }
            if (ok) changed |= Apply(s, c.Attributes);
            if (changed) s.Version = stamp.Next();
            applied?.Add(ok);
        }
        return true;
    }

    public int AckParent(ulong userId, ulong parent, ulong message)
    {
        var u = User(userId);
        var stamp = new Stamp(u);
        int acked = 0;
        foreach (var s in u.States.Values.Where(s => s.Parent == parent && message > s.Last))
        {
            s.Last = message;
            s.Mentions.RemoveWhere(m => m <= message);
            s.Version = stamp.Next();
            acked++;
        }
        return acked;
    }

    public bool AckPins(ulong userId, ulong channel, long ts, StateAttributes a)
    {
        var u = User(userId);
        var stamp = new Stamp(u);
        if (!u.States.TryGetValue(channel, out var s))
        {
            if (u.States.Count + 1 > MaxStatesPerUser) return false;
            s = Create(a);
            s.Pin = ts;
            s.Version = stamp.Next();
            u.States[channel] = s;
            return true;
        }
        if (ts < s.Pin) return true;
        bool changed = ts > s.Pin;
        s.Pin = ts;
        changed |= Apply(s, a);
        if (changed) s.Version = stamp.Next();
        return true;
    }

    public int AddMentions(ulong channel, ulong message, IEnumerable<ulong> users, StateAttributes a)
    {
        int counted = 0;
        foreach (ulong userId in users)
        {
            var u = User(userId);
            var stamp = new Stamp(u);
            if (!u.States.TryGetValue(channel, out var s))
            {
                if (u.States.Count + 1 > MaxStatesPerUser) continue;
                s = Create(a);
                s.Version = stamp.Next();
                u.States[channel] = s;
            }
            if (message > s.Last && s.Mentions.Add(message))
            {
                s.Version = stamp.Next();
                counted++;
            }
        }
        return counted;
    }

    public int RemoveMentions(ulong channel, ulong message, IEnumerable<ulong> users)
    {
        int removed = 0;
        foreach (ulong userId in users)
        {
            var u = User(userId);
            if (u.States.TryGetValue(channel, out var s) && s.Mentions.Remove(message))
            {
                s.Version = new Stamp(u).Next();
                removed++;
            }
        }
        return removed;
    }

    public int Delete(ulong userId, IEnumerable<ulong> channels, bool all)
    {
        var u = User(userId);
        var stamp = new Stamp(u);
        var victims = all ? u.States.Keys.ToList() : channels.Distinct().Where(u.States.ContainsKey).ToList();
        foreach (ulong c in victims)
        {
            u.States.Remove(c);
            stamp.Next();
        }
        return victims.Count;
    }

    /// <summary>Asserts that the engine's view of a user equals the model's.</summary>
    public void AssertMatches(ulong userId, Snapshot actual, string context)
    {
        var u = Users.TryGetValue(userId, out var x) ? x : new MUser();
        var expected = u.States.Select(kv => (kv.Key, kv.Value.Last, kv.Value.Mentions.Count, kv.Value.Parent, kv.Value.Type,
            kv.Value.Flags, kv.Value.LastViewed, kv.Value.Pin, kv.Value.Version)).ToList();
        var got = actual.States.Select(s => (s.ChannelId, s.LastMessageId, s.MentionCount, s.ParentId, s.Type,
            s.Flags, s.LastViewed, s.LastPinTimestamp, s.Version)).ToList();
        Assert.True(expected.SequenceEqual(got),
            $"{context}: user {userId}\n expected {string.Join(" ", expected)}\n actual   {string.Join(" ", got)}");
        Assert.True(u.Version == actual.Version, $"{context}: user {userId} version expected {u.Version}, actual {actual.Version}");
        Assert.Equal(u.States.Values.Sum(s => (long)s.Mentions.Count), actual.Totals.TotalMentions);
        Assert.Equal(u.States.Values.Count(s => s.Mentions.Count > 0), actual.Totals.ChannelsWithMentions);
    }
}
