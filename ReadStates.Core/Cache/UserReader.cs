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

        var totals = default(UserTotals);
        var parents = into.ParentBuffer;
        int parentCount = 0;
        foreach (ref readonly var c in cells)
        {
            ref readonly var s = ref c.State;
            if (s.IsDeleted) continue;
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
        SortByParent(parents[..parentCount]);
        into.SetParentCount(parentCount);

        if (channelIds.IsEmpty)
        {
            foreach (ref readonly var c in cells)
                if (!c.State.IsDeleted) into.Add(c.State);
            return;
        }

        var wanted = into.ChannelScratch(channelIds.Length);
        channelIds.CopyTo(wanted);
        wanted.Sort();
        for (int i = 0; i < wanted.Length; i++)
        {
            if (i > 0 && wanted[i] == wanted[i - 1]) continue;
            int index = arena.Find(u, wanted[i]);
            if (arena.IsLive(u, index)) into.Add(arena.At(u, index).State);
        }
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
