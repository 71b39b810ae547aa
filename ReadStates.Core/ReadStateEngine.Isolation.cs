using ReadStates.Core.Storage;

namespace ReadStates.Core;

/// <summary>
/// One user whose write the store keeps refusing (a value it rejects, a partition it cannot take) must
/// not hold every other user's changes hostage. After a batch has failed a few times, its halves are
/// tried: both failing means the store itself is failing (keep retrying the batch); otherwise the
/// failing half is bisected down to the users that fail on their own. Those are isolated: taken out of
/// shared batches, reported (log with the user id, <see cref="EngineStats.IsolatedUsers"/>), and written
/// alone with per-user backoff until the store takes them. They stay dirty in memory (and in the
/// durable log) all along. Runs only on the flush loop, under the flush gate.
/// </summary>
public sealed partial class ReadStateEngine
{
    private const int IsolateAfterAttempts = 3;
    private const int MaxIsolationWrites = 64;

    private readonly Dictionary<ulong, IsolatedUser> _isolated = [];
    private readonly StateBatch _scratch = new();
    private readonly StateBatch _rest = new();
    private volatile int _isolatedCount;
    private int _isolationWritesLeft;

    private sealed class IsolatedUser
    {
        public int Attempts;
        public long DueAt;
    }

    /// <summary>After the third failure, then every fourth: a full outage costs two extra writes now and then.</summary>
    private static bool ShouldIsolate(int attempt, int users) =>
        users > 1 && attempt >= IsolateAfterAttempts && (attempt - IsolateAfterAttempts) % 4 == 0;

    /// <summary>The users of the batch that fail on their own (now isolated); null when the whole store seems to fail.</summary>
    private async Task<HashSet<ulong>?> IsolateAsync(StateBatch batch, Exception error, CancellationToken ct, FailureBudget? budget)
    {
        int n = batch.UserCount, half = n / 2;
        _isolationWritesLeft = MaxIsolationWrites;
        bool left = await TryWriteUsersAsync(batch, 0, half, ct, budget).ConfigureAwait(false);
        bool right = await TryWriteUsersAsync(batch, half, n - half, ct, budget).ConfigureAwait(false);
        if (!left && !right) return null;
        var failed = new HashSet<ulong>();
        if (!left) await BisectAsync(batch, 0, half, failed, ct, budget).ConfigureAwait(false);
        if (!right) await BisectAsync(batch, half, n - half, failed, ct, budget).ConfigureAwait(false);
        foreach (ulong user in failed) Isolate(user, error.Message);
        return failed;
    }

    private async Task BisectAsync(StateBatch batch, int start, int count, HashSet<ulong> failed, CancellationToken ct, FailureBudget? budget)
    {
        if (count == 1 || _isolationWritesLeft < 2)
        {
            // One user failing alone, or out of writes for this round: isolated (retried soon, with backoff).
            for (int i = start; i < start + count; i++) failed.Add(batch.Users[i].UserId);
            return;
        }
        int half = count / 2;
        bool left = await TryWriteUsersAsync(batch, start, half, ct, budget).ConfigureAwait(false);
        bool right = await TryWriteUsersAsync(batch, start + half, count - half, ct, budget).ConfigureAwait(false);
        if (!left) await BisectAsync(batch, start, half, failed, ct, budget).ConfigureAwait(false);
        if (!right) await BisectAsync(batch, start + half, count - half, failed, ct, budget).ConfigureAwait(false);
    }

    /// <summary>One attempt at some users of a batch, on their own.</summary>
    private async Task<bool> TryWriteUsersAsync(StateBatch batch, int start, int count, CancellationToken ct, FailureBudget? budget)
    {
        _isolationWritesLeft--;
        CopyUsers(batch, start, count, _scratch, skip: null);
        try
        {
            await WriteOnceAsync(_scratch, ct, budget).ConfigureAwait(false);
            return true;
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            Failed(budget);
            return false;
        }
    }

    private static void CopyUsers(StateBatch from, int start, int count, StateBatch into, HashSet<ulong>? skip)
    {
        into.Clear();
        for (int i = start; i < start + count; i++)
        {
            var user = from.Users[i];
            if (skip is not null && skip.Contains(user.UserId)) continue;
            into.BeginUser(user.UserId, user.Version);
            foreach (ref readonly var s in from.StatesOf(user)) into.AddState(s.State, s.OverflowCount, s.OverflowMaxId, from.MentionsOf(s));
        }
    }

    private void Isolate(ulong userId, string error)
    {
        if (!_isolated.TryGetValue(userId, out var user))
        {
            _isolated[userId] = user = new IsolatedUser();
            _isolatedCount = _isolated.Count;
            EngineLog.UserIsolated(_shared.Logger, userId, error);
        }
        user.Attempts++;
        user.DueAt = _time.GetTimestamp() + (long)(RetryDelay(user.Attempts).TotalSeconds * _time.TimestampFrequency);
    }

    /// <summary>
    /// Writes a collected batch: the isolated users in it each alone (when due; at shutdown always), the
    /// others together with retry. Returns the users not written (null: all were).
    /// </summary>
    private async Task<HashSet<ulong>?> WriteBatchAsync(StateBatch batch, CancellationToken ct, FailureBudget? budget)
    {
        HashSet<ulong>? isolatedHere = null;
        if (_isolated.Count > 0)
            for (int i = 0; i < batch.UserCount; i++)
                if (_isolated.ContainsKey(batch.Users[i].UserId)) (isolatedHere ??= []).Add(batch.Users[i].UserId);
        if (isolatedHere is null) return await WriteWithRetryAsync(batch, ct, budget).ConfigureAwait(false);

        var unwritten = new HashSet<ulong>();
        long now = _time.GetTimestamp();
        for (int i = 0; i < batch.UserCount; i++)
        {
            ulong userId = batch.Users[i].UserId;
            if (!isolatedHere.Contains(userId)) continue;
            var user = _isolated[userId];
            if (budget is null && user.DueAt > now)
            {
                unwritten.Add(userId);
                continue;
            }
            if (await TryWriteUsersAsync(batch, i, 1, ct, budget).ConfigureAwait(false))
            {
                EngineLog.UserRecovered(_shared.Logger, userId, user.Attempts);
                _isolated.Remove(userId);
                _isolatedCount = _isolated.Count;
            }
            else
            {
                user.Attempts++;
                user.DueAt = _time.GetTimestamp() + (long)(RetryDelay(user.Attempts).TotalSeconds * _time.TimestampFrequency);
                unwritten.Add(userId);
            }
        }
        CopyUsers(batch, 0, batch.UserCount, _rest, skip: isolatedHere);
        if (_rest.UserCount > 0 && await WriteWithRetryAsync(_rest, ct, budget).ConfigureAwait(false) is { } more) unwritten.UnionWith(more);
        return unwritten;
    }

    /// <summary>Isolated resident users are not queued while they wait: put the due ones (all, at shutdown) back in their queue.</summary>
    private void RequeueDueIsolated(bool all)
    {
        if (_isolated.Count == 0) return;
        long now = _time.GetTimestamp();
        foreach (var (userId, user) in _isolated)
        {
            if (!all && user.DueAt > now) continue;
            ReadOnlySpan<UserEntry> one = [new UserEntry { UserId = userId }];
            ShardFor(userId).Requeue(one);
        }
    }
}
