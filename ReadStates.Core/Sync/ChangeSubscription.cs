namespace ReadStates.Core.Sync;

/// <summary>
/// One watcher's interest in one user's changes (a Watch stream's subscription). The engine only says
/// <em>that</em> the user changed; the consumer then reads what changed with a sync read from the version
/// it delivered last, outside every engine lock. So a notification carries no data, many changes collapse
/// into one pending mark, and a slow consumer costs one flag per subscription, never a queue.
/// <para>
/// Protocol: <see cref="OnPending"/> runs when the user changes while the subscription is not already
/// pending. The consumer calls <see cref="TakePending"/> before it reads, so any change that lands after
/// the read marks it pending again: no change is missed, and none is read twice.
/// </para>
/// </summary>
public abstract class ChangeSubscription
{
    private int _pending;

    protected ChangeSubscription(ulong userId)
    {
        if (userId == 0) throw new ArgumentOutOfRangeException(nameof(userId), "Ids must not be zero.");
        UserId = userId;
    }

    public ulong UserId { get; }

    /// <summary>The next subscription of the same user in its shard's list (other streams watching the user).</summary>
    internal volatile ChangeSubscription? NextOfUser;

    /// <summary>Registered with the engine (between <c>Watch</c> and <c>Unwatch</c>); guarded by the shard lock.</summary>
    internal bool Registered;

    /// <summary>
    /// The user changed (or <see cref="MarkPending"/> was called) and the subscription was not pending.
    /// WARNING: called on the writer's thread right after its shard lock is released: queue the
    /// subscription and return; never block, never read the engine here.
    /// </summary>
    protected abstract void OnPending();

    /// <summary>Marks the subscription pending (calling <see cref="OnPending"/> if it was not): schedules a read.</summary>
    public void MarkPending()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0) OnPending();
    }

    /// <summary>Clears the pending mark; call it right before reading the user's changes.</summary>
    public void TakePending() => Interlocked.Exchange(ref _pending, 0);

    /// <summary>Signals every subscription of one user's list; called outside the shard lock.</summary>
    internal static void NotifyAll(ChangeSubscription? head)
    {
        for (var s = head; s is not null; s = s.NextOfUser) s.MarkPending();
    }
}
