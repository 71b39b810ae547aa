using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Tests.Core;

/// <summary>
/// An in-memory store for engine unit tests, with fault injection: failing writes, slow loads, and
/// counters. It deep-copies everything it is given, as a real store would.
/// </summary>
internal sealed class MemoryStore : IReadStateStore
{
    private readonly object _gate = new();
    private readonly Dictionary<ulong, SortedDictionary<ulong, Row>> _users = [];
    private readonly Dictionary<ulong, ulong> _versions = [];
    private readonly Dictionary<ulong, ulong> _floors = [];

    private sealed record Row(ReadState State, int Overflow, ulong OverflowMax, ulong[] Mentions);

    public string Name => "memory";
    public int Loads;
    public int Writes;
    public int FailingWrites;
    public int FailingLoads;
    public TimeSpan LoadDelay;
    public Func<StateBatch, Task>? BeforeWrite;

    public async Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Loads);
        if (LoadDelay > TimeSpan.Zero) await Task.Delay(LoadDelay, cancellationToken);
        if (FailingLoads > 0 && Interlocked.Decrement(ref FailingLoads) >= 0) throw new IOException("injected load failure");
        lock (_gate)
        {
            _versions.TryGetValue(userId, out ulong version);
            into.BeginUser(userId, version);
            into.RaiseSyncFloor(_floors.GetValueOrDefault(userId));
            if (!_users.TryGetValue(userId, out var rows)) return;
            foreach (var row in rows.Values) into.AddState(row.State, row.Overflow, row.OverflowMax, row.Mentions);
        }
    }

    public async Task WriteAsync(StateBatch batch, CancellationToken cancellationToken)
    {
        if (BeforeWrite is not null) await BeforeWrite(batch);
        if (FailingWrites > 0 && Interlocked.Decrement(ref FailingWrites) >= 0) throw new IOException("injected write failure");
        lock (_gate)
        {
            Writes++;
            foreach (var user in batch.Users)
            {
                if (!_users.TryGetValue(user.UserId, out var rows)) _users[user.UserId] = rows = [];
                _versions[user.UserId] = Math.Max(user.Version, _versions.GetValueOrDefault(user.UserId));
                _floors[user.UserId] = Math.Max(user.SyncFloor, _floors.GetValueOrDefault(user.UserId));
                foreach (var s in batch.StatesOf(user))
                {
                    // The store contract: a tombstone above the floor is kept (sync reads report it), at or below it purged.
                    if (s.IsDeleted && s.State.Version <= user.SyncFloor) rows.Remove(s.State.ChannelId);
                    else rows[s.State.ChannelId] = new Row(s.State, s.OverflowCount, s.OverflowMaxId, batch.MentionsOf(s).ToArray());
                }
            }
        }
    }

    /// <summary>The live state stored for the channel; null when none (or only a tombstone row).</summary>
    public ReadState? Stored(ulong userId, ulong channelId)
    {
        lock (_gate)
            return _users.TryGetValue(userId, out var rows) && rows.TryGetValue(channelId, out var row) && !row.State.IsDeleted ? row.State : null;
    }

    /// <summary>The row stored for the channel, a tombstone included.</summary>
    public ReadState? StoredRow(ulong userId, ulong channelId)
    {
        lock (_gate)
            return _users.TryGetValue(userId, out var rows) && rows.TryGetValue(channelId, out var row) ? row.State : null;
    }

    /// <summary>Live states stored for the user (tombstone rows not counted).</summary>
    public int StoredCount(ulong userId)
    {
        lock (_gate) return _users.TryGetValue(userId, out var rows) ? rows.Values.Count(r => !r.State.IsDeleted) : 0;
    }

    /// <summary>Tombstone rows stored for the user.</summary>
    public int StoredTombstones(ulong userId)
    {
        lock (_gate) return _users.TryGetValue(userId, out var rows) ? rows.Values.Count(r => r.State.IsDeleted) : 0;
    }

    public ulong StoredFloor(ulong userId)
    {
        lock (_gate) return _floors.GetValueOrDefault(userId);
    }

    public ValueTask DisposeAsync() => default;
}
