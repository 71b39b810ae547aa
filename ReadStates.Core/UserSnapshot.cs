namespace ReadStates.Core;

/// <summary>
/// A copy of one user's read states and totals, filled by the engine under the shard lock and read by
/// the caller after it, so that building a reply (protobuf, JSON) never holds a lock. Reusable and meant
/// to be pooled by the caller: buffers grow to the largest user seen and are kept. Not thread-safe.
/// </summary>
public sealed class UserSnapshot
{
    private ReadState[] _states = new ReadState[16];
    private ParentTotal[] _parents = new ParentTotal[4];
    private ulong[] _channelScratch = new ulong[16];
    private int _stateCount;
    private int _parentCount;

    /// <summary>The user's version when the copy was taken.</summary>
    public ulong Version { get; private set; }

    /// <summary>Totals over all of the user's live states (whatever channels were asked for).</summary>
    public UserTotals Totals { get; private set; }

    /// <summary>The states asked for, sorted by channel id.</summary>
    public ReadOnlySpan<ReadState> States => _states.AsSpan(0, _stateCount);

    /// <summary>Mentions per parent (guild), sorted by parent id.</summary>
    public ReadOnlySpan<ParentTotal> Parents => _parents.AsSpan(0, _parentCount);

    /// <summary>Capacity kept by the buffers, in states (lets a pool drop snapshots that grew huge).</summary>
    public int Capacity => _states.Length;

    internal void Begin(ulong version, int maxStates)
    {
        Version = version;
        Totals = default;
        _stateCount = 0;
        _parentCount = 0;
        if (_states.Length < maxStates) _states = new ReadState[Math.Max(maxStates, _states.Length * 2)];
        // Parents are at most the states; most users sit in a handful.
        if (_parents.Length < maxStates) _parents = new ParentTotal[Math.Max(maxStates, _parents.Length * 2)];
    }

    internal void SetTotals(in UserTotals totals) => Totals = totals;

    /// <summary>Room for the parent totals; the reader fills and counts them.</summary>
    internal Span<ParentTotal> ParentBuffer => _parents;

    internal void SetParentCount(int count) => _parentCount = count;

    /// <summary>Appends a state; room was made by <see cref="Begin"/>.</summary>
    internal void Add(in ReadState state) => _states[_stateCount++] = state;

    internal Span<ulong> ChannelScratch(int length)
    {
        if (_channelScratch.Length < length) _channelScratch = new ulong[Math.Max(length, _channelScratch.Length * 2)];
        return _channelScratch.AsSpan(0, length);
    }
}
