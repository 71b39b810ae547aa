namespace ReadStates.Core.Cache;

/// <summary>
/// The read path: copies one resident user's states and totals into a <see cref="UserSnapshot"/>.
/// WARNING: runs under the shard lock: copy and compute only, never allocate (the snapshot grows
/// before the copy, outside the steady state) or call out.
/// </summary>
internal static class UserReader
{
    public static void Read(StateArena arena, in UserSlot u, ReadOnlySpan<ulong> channelIds, UserSnapshot into)
    {
        var cells = arena.Of(u);
        into.Begin(u.Version, u.Live);
        if (channelIds.IsEmpty)
        {
            AddTotals(cells, into, copyLive: true);
            return;
        }
        AddTotals(cells, into, copyLive: false);

        foreach (ulong channelId in SortedDistinct(channelIds, into))
        {
            int index = arena.Find(u, channelId);
            if (arena.IsLive(u, index)) into.Add(arena.At(u, index).State);
        }
    }

    /// <summary>
    /// A sync read: the totals, and the states changed and deleted after <paramref name="since"/> (all channels, or
    /// the listed ones). Below the sync floor only the totals and "resync required"; <paramref name="since"/>
    /// null = just the totals and the current version (where a subscription starts). Throws
    /// <see cref="VersionAheadException"/> for a version the user has not reached.
    /// </summary>
    public static void ReadChanges(StateArena arena, in UserSlot u, ulong? since, ReadOnlySpan<ulong> channelIds, UserSnapshot into)
    {
        ulong from = since ?? u.Version;
        if (from > u.Version) ThrowAhead(u.UserId, from, u.Version);
        var cells = arena.Of(u);
        bool resync = from < u.SyncFloor;
        bool nothing = resync || from == u.Version;
        into.Begin(u.Version, u.Live, resync ? SyncStatus.ResyncRequired : SyncStatus.Changes, from, u.SyncFloor, nothing ? 0 : u.Retained);
        AddTotals(cells, into, copyLive: false);
        if (nothing) return;

        if (channelIds.IsEmpty)
        {
            foreach (ref readonly var c in cells) AddChange(c.State, from, into);
            return;
        }
        foreach (ulong channelId in SortedDistinct(channelIds, into))
        {
            int index = arena.Find(u, channelId);
            if (index >= 0) AddChange(arena.At(u, index).State, from, into);
        }
    }

    // Purging tombstones are at or below the floor, hence at or below `since`: never reported.
    private static void AddChange(in ReadState s, ulong since, UserSnapshot into)
    {
        if (s.Version <= since) return;
        if (s.IsDeleted) into.AddDeleted(s.ChannelId, s.Version);
        else into.Add(s);
    }

    private static ReadOnlySpan<ulong> SortedDistinct(ReadOnlySpan<ulong> channelIds, UserSnapshot into)
    {
        var wanted = into.ChannelScratch(channelIds.Length);
        channelIds.CopyTo(wanted);
        wanted.Sort();
        int n = 0;
        for (int i = 0; i < wanted.Length; i++)
            if (i == 0 || wanted[i] != wanted[i - 1]) wanted[n++] = wanted[i];
        return wanted[..n];
    }

    private static void ThrowAhead(ulong userId, ulong since, ulong current) => throw new VersionAheadException(userId, since, current);

    /// <summary>
    /// Totals over the live states, and with <paramref name="copyLive"/> (a full read) their copies in the same
    /// pass: a full read touches each cell once, and the copy loop keeps its count in a register.
    /// </summary>
    private static void AddTotals(ReadOnlySpan<CachedState> cells, UserSnapshot into, bool copyLive)
    {
        var totals = default(UserTotals);
        var parents = into.ParentBuffer;
        var copies = copyLive ? into.StateBuffer : default;
        int parentCount = 0;
        foreach (ref readonly var c in cells)
        {
            ref readonly var s = ref c.State;
            if (s.IsDeleted) continue;
            if (copyLive) copies[totals.States] = s;
            totals.States++;
            totals.TotalMentions += s.MentionCount;
            int withMentions = s.MentionCount > 0 ? 1 : 0;
            totals.ChannelsWithMentions += withMentions;
            // Users sit in few parents (guilds): a linear scan of the distinct ones beats hashing here.
            int p = 0;
            while (p < parentCount && parents[p].ParentId != s.ParentId) p++;
            if (p == parentCount) parents[parentCount++] = new ParentTotal { ParentId = s.ParentId };
            parents[p].Mentions += s.MentionCount;
            parents[p].ChannelsWithMentions += withMentions;
        }
        into.SetTotals(totals);
        if (copyLive) into.SetStateCount(totals.States);
        SortByParent(parents[..parentCount]);
        into.SetParentCount(parentCount);
    }

    // Insertion sort: few parents, and no comparer delegate on the hot path.
    private static void SortByParent(Span<ParentTotal> byParent)
    {
        for (int i = 1; i < byParent.Length; i++)
        {
            var item = byParent[i];
            int j = i - 1;
            for (; j >= 0 && byParent[j].ParentId > item.ParentId; j--) byParent[j + 1] = byParent[j];
            byParent[j + 1] = item;
        }
    }
}
