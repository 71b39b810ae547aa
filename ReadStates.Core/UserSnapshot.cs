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
    private Deletion[] _deleted = new Deletion[4];
    private int _stateCount;
    private int _parentCount;
    private int _deletedCount;

    /// <summary>The user's version when the copy was taken.</summary>
    public ulong Version { get; private set; }

    /// <summary>A full read, exact changes since <see cref="SinceVersion"/>, or "resync required".</summary>
    public SyncStatus Sync { get; private set; }

    /// <summary>The version the changes are counted from (exclusive); for a full read, 0.</summary>
    public ulong SinceVersion { get; private set; }

    /// <summary>The user's sync floor: the lowest since version that can still be answered exactly.</summary>
    public ulong SyncFloor { get; private set; }

    /// <summary>Changes reads: the channels deleted after <see cref="SinceVersion"/>, sorted by channel id, each with its deletion's version.</summary>
    public ReadOnlySpan<Deletion> Deleted => _deleted.AsSpan(0, _deletedCount);

    /// <summary>Totals over all of the user's live states (whatever channels were asked for).</summary>
    public UserTotals Totals { get; private set; }

    /// <summary>The states asked for, sorted by channel id.</summary>
    public ReadOnlySpan<ReadState> States => _states.AsSpan(0, _stateCount);

    /// <summary>Mentions per parent (guild), sorted by parent id.</summary>
    public ReadOnlySpan<ParentTotal> Parents => _parents.AsSpan(0, _parentCount);

    /// <summary>Capacity kept by the buffers, in states (lets a pool drop snapshots that grew huge).</summary>
    public int Capacity => Math.Max(_states.Length, _deleted.Length);

    internal void Begin(ulong version, int maxStates) => Begin(version, maxStates, SyncStatus.Full, 0, 0, 0);

    /// <summary>Resets for a read; makes room for <paramref name="maxStates"/> states and <paramref name="maxDeleted"/> deletions.</summary>
    internal void Begin(ulong version, int maxStates, SyncStatus sync, ulong since, ulong floor, int maxDeleted)
    {
        Version = version;
        Sync = sync;
        SinceVersion = since;
        SyncFloor = floor;
        Totals = default;
        _stateCount = 0;
        _parentCount = 0;
        _deletedCount = 0;
        if (_deleted.Length < maxDeleted) _deleted = new Deletion[Math.Max(maxDeleted, _deleted.Length * 2)];
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

    /// <summary>
    /// The whole state buffer (room made by <see cref="Begin"/>), for a reader that copies in one loop with a
    /// local count and then calls <see cref="SetStateCount"/>: no field write per state.
    /// </summary>
    internal Span<ReadState> StateBuffer => _states;

    internal void SetStateCount(int count) => _stateCount = count;

    /// <summary>Appends a deletion; room was made by <see cref="Begin(ulong, int, SyncStatus, ulong, ulong, int)"/>.</summary>
    internal void AddDeleted(ulong channelId, ulong version) => _deleted[_deletedCount++] = new Deletion(channelId, version);

    internal Span<ulong> ChannelScratch(int length)
    {
        if (_channelScratch.Length < length) _channelScratch = new ulong[Math.Max(length, _channelScratch.Length * 2)];
        return _channelScratch.AsSpan(0, length);
    }
}
