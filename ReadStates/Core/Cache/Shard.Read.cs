namespace ReadStates.Core.Cache;

/// <summary>Reads: a resident user's states and totals handed to a visitor, with shard-owned scratch so nothing is allocated.</summary>
internal sealed partial class Shard
{
    private ParentTotal[] _parentScratch = new ParentTotal[64];
    private ulong[] _channelScratch = new ulong[64];

    private struct ByParent : IComparer<ParentTotal>
    {
        public readonly int Compare(ParentTotal x, ParentTotal y) => x.ParentId.CompareTo(y.ParentId);
    }

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
                _parentScratch[parents++] = new ParentTotal { ParentId = s.ParentId, Mentions = s.MentionCount, ChannelsWithMentions = withMentions };
            }
            visitor.Begin(u.Version, totals);

            var byParent = _parentScratch.AsSpan(0, parents);
            byParent.Sort(default(ByParent));
            for (int i = 0; i < byParent.Length;)
            {
                var sum = byParent[i];
                int j = i + 1;
                for (; j < byParent.Length && byParent[j].ParentId == sum.ParentId; j++)
                {
                    sum.Mentions += byParent[j].Mentions;
                    sum.ChannelsWithMentions += byParent[j].ChannelsWithMentions;
                }
                visitor.Parent(sum);
                i = j;
            }

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
