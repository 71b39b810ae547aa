using System.Diagnostics;
using ReadStates.Core.Sync;

namespace ReadStates.Core.Cache;

/// <summary>
/// Which users of a shard are watched, and by whom: user id → a linked list of subscriptions (usually
/// one; several when several streams watch the user). Keyed by user id, not slot, so a watched user may
/// be evicted and reloaded freely. Not thread-safe: the shard lock guards every change; notification walks
/// a list it captured under the lock, after releasing it (a subscription unlinked meanwhile keeps its
/// <see cref="ChangeSubscription.NextOfUser"/>, so the walk goes on; it gets one extra mark, which its
/// consumer ignores).
/// </summary>
internal sealed class ShardWatchers
{
    private readonly Dictionary<ulong, ChangeSubscription> _byUser = [];

    /// <summary>Watched users in this shard; the hot path's only cost when nobody watches is reading this.</summary>
    /// <remarks>A field of its own, not the dictionary's count: one load on the hot path instead of three.</remarks>
    public int Count { get; private set; }

    /// <summary>The head of the user's list, or null when nobody watches it.</summary>
    public ChangeSubscription? Of(ulong userId) => _byUser.GetValueOrDefault(userId);

    public void Add(ChangeSubscription s)
    {
        Debug.Assert(!s.Registered, "subscription registered twice");
        s.NextOfUser = _byUser.GetValueOrDefault(s.UserId);
        _byUser[s.UserId] = s;
        Count = _byUser.Count;
        s.Registered = true;
    }

    /// <summary>Unlinks <paramref name="s"/>; false when it was not registered.</summary>
    public bool Remove(ChangeSubscription s)
    {
        if (!s.Registered || !_byUser.TryGetValue(s.UserId, out var head)) return false;
        s.Registered = false;
        if (ReferenceEquals(head, s))
        {
            if (s.NextOfUser is { } next) _byUser[s.UserId] = next;
            else _byUser.Remove(s.UserId);
            Count = _byUser.Count;
            return true;
        }
        for (var prev = head; prev.NextOfUser is { } cur; prev = cur)
        {
            if (!ReferenceEquals(cur, s)) continue;
            prev.NextOfUser = s.NextOfUser;
            return true;
        }
        Debug.Fail("a registered subscription was not in its user's list");
        return false;
    }
}
