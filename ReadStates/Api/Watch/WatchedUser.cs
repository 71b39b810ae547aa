using ReadStates.Core.Sync;

namespace ReadStates.Api.Watch;

/// <summary>
/// One user subscribed on one Watch stream: the engine's change mark plus what the stream delivered. Touched
/// only by its session's pump, except <see cref="OnPending"/> (any writer's thread), which only queues it.
/// </summary>
internal sealed class WatchedUser(ulong userId, WatchSession session) : ChangeSubscription(userId)
{
    /// <summary>The version the stream has brought the client to; the next event starts from it.</summary>
    public ulong Delivered;

    /// <summary>Before the first event: the resume point the client asked for (null = from now).</summary>
    public ulong? ResumeFrom;

    /// <summary>The first event (the confirmation) has been sent.</summary>
    public bool Started;

    /// <summary>Still subscribed; an entry queued after unsubscribing is skipped.</summary>
    public bool Active = true;

    protected override void OnPending() => session.Enqueue(this);
}
