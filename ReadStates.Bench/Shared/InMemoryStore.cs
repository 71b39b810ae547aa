using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Bench.Shared;

/// <summary>
/// A small in-memory store for engine benchmarks: one flat array of states per user, replaced whole on
/// write (deep copy, as a real store would). Mention ids are not kept (benchmarks ack them away).
/// </summary>
internal sealed class InMemoryStore : IReadStateStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ulong, (ulong Version, ulong Floor, ReadState[] States)> _users = [];
    private long _writes;

    public string Name => "memory";
    public long Writes => Interlocked.Read(ref _writes);
    public int UserCount { get { lock (_gate) return _users.Count; } }

    public Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
    {
        (ulong Version, ulong Floor, ReadState[] States) row;
        lock (_gate)
        {
            if (!_users.TryGetValue(userId, out row)) { into.BeginUser(userId, 0); return Task.CompletedTask; }
        }
        into.BeginUser(userId, row.Version);
        into.RaiseSyncFloor(row.Floor);
        foreach (ref readonly var s in row.States.AsSpan()) into.AddState(s, 0, 0, default);
        return Task.CompletedTask;
    }

    public Task WriteAsync(StateBatch batch, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (ref readonly var user in batch.Users)
            {
                var incoming = batch.StatesOf(user);
                _users.TryGetValue(user.UserId, out var existing);
                var merged = new SortedDictionary<ulong, ReadState>();
                if (existing.States is not null) foreach (var s in existing.States) merged[s.ChannelId] = s;
                foreach (ref readonly var s in incoming)
                {
                    if (s.IsDeleted && s.State.Version <= user.SyncFloor) merged.Remove(s.State.ChannelId); // purged; above the floor a tombstone row stays
                    else
                    {
                        var copy = s.State;
                        copy.MentionCount = 0; // mention ids are not kept here, so neither is their count
                        merged[s.State.ChannelId] = copy;
                    }
                }
                _users[user.UserId] = (Math.Max(user.Version, existing.Version), Math.Max(user.SyncFloor, existing.Floor), merged.Values.ToArray());
            }
        }
        Interlocked.Increment(ref _writes);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => default;
}

/// <summary>A store with nothing in it that forgets what it is given: the memory mode measures the cache alone.</summary>
internal sealed class DiscardStore : IReadStateStore
{
    private long _writes;

    public string Name => "discard";
    public long Writes => Interlocked.Read(ref _writes);

    public Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
    {
        into.BeginUser(userId, 0);
        return Task.CompletedTask;
    }

    public Task WriteAsync(StateBatch batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _writes);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => default;
}
