namespace ReadStates.Core.Cache;

/// <summary>
/// The user ids a shard must write behind, each queued once (the slot's <c>Queued</c> mark dedupes).
/// A stack: order does not matter, because every pass takes them all. Not thread-safe (shard lock).
/// </summary>
internal sealed class DirtyQueue
{
    private ulong[] _ids = new ulong[64];

    public int Count { get; private set; }

    public void Push(ulong userId)
    {
        if (Count == _ids.Length) Array.Resize(ref _ids, _ids.Length * 2);
        _ids[Count++] = userId;
    }

    public bool TryPop(out ulong userId)
    {
        if (Count == 0)
        {
            userId = 0;
            return false;
        }
        userId = _ids[--Count];
        return true;
    }
}
