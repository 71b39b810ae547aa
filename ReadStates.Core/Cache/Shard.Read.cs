namespace ReadStates.Core.Cache;

/// <summary>Reads: a resident user's states and totals handed to a visitor, with shard-owned scratch so nothing is allocated.</summary>
internal sealed partial class Shard
{
    private ParentTotal[] _parentScratch = new ParentTotal[64];
    private ulong[] _channelScratch = new ulong[64];

    public bool TryRead<TVisitor>(ulong userId, ReadOnlySpan<ulong> channelIds, ref TVisitor visitor)
        where TVisitor : IReadStateVisitor, allows ref struct
    {
        lock (_lock)
        {
            int slot = Resolve(userId);
            if (slot < 0) return false;
            ref var u = ref _slots[slot];
            var states = StatesOf(u);

            if (_parentScratch.Length < u.Live) _parentScratch = new ParentTotal[Math.Max(u.Live, _parentScratch.Length * 2)];
            var totals = default(UserTotals);
            int parents = 0;
            foreach (ref readonly var s in states)
            {
                if (s.IsDeleted) continue;
                totals.States++;
                totals.TotalMentions += s.MentionCount;
                int withMentions = s.MentionCount > 0 ? 1 : 0;
                totals.ChannelsWithMentions += withMentions;
                // Users sit in few parents (guilds): a linear scan of the distinct ones beats hashing here.
                int p = 0;
                while (p < parents && _parentScratch[p].ParentId != s.ParentId) p++;
                if (p == parents) _parentScratch[parents++] = new ParentTotal { ParentId = s.ParentId };
                _parentScratch[p].Mentions += s.MentionCount;
                _parentScratch[p].ChannelsWithMentions += withMentions;
            }
            visitor.Begin(u.Version, totals);

            var byParent = _parentScratch.AsSpan(0, parents);
            for (int i = 1; i < byParent.Length; i++)
            {
                var item = byParent[i];
                int j = i - 1;
                for (; j >= 0 && byParent[j].ParentId > item.ParentId; j--) byParent[j + 1] = byParent[j];
                byParent[j + 1] = item;
            }
            foreach (ref readonly var parent in byParent) visitor.Parent(parent);

            if (channelIds.IsEmpty)
            {
                foreach (ref readonly var s in states)
                    if (!s.IsDeleted) visitor.State(s);
                return true;
            }

            if (_channelScratch.Length < channelIds.Length) _channelScratch = new ulong[Math.Max(channelIds.Length, _channelScratch.Length * 2)];
            var wanted = _channelScratch.AsSpan(0, channelIds.Length);
            channelIds.CopyTo(wanted);
            wanted.Sort();
            for (int i = 0; i < wanted.Length; i++)
            {
                if (i > 0 && wanted[i] == wanted[i - 1]) continue;
                int index = Find(u, wanted[i]);
                if (IsLive(u, index)) visitor.State(StateAt(u, index));
            }
            return true;
        }
    }
}
