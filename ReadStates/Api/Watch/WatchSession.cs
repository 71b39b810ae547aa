using System.Threading.Channels;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStates.Core;

namespace ReadStates.Api.Watch;

/// <summary>
/// One Watch stream. A reader task validates the caller's WatchRequests and queues them; one pump works the
/// queue in order: subscription changes, and users whose change mark was set. For a marked user it reads
/// the changes since the version it delivered last (the engine's sync read, a copy under the shard lock),
/// builds the event outside every lock and writes it. Events of one user therefore go out in version order,
/// each covering (delivered, version] exactly: no gap, no duplicate, several versions of one state
/// coalesced into the newest.
/// <para>
/// Bounds: the queue holds at most one entry per subscription (the mark dedupes) plus a few request messages
/// (the reader waits for room), so a slow consumer costs a flag per user, never a growing buffer, and writers
/// never wait for it; its users' changes coalesce until it reads. A user whose piled-up changes exceed
/// <see cref="WatchLimits.MaxEventStates"/> gets a RESYNC event instead.
/// </para>
/// </summary>
internal sealed class WatchSession(ReadStateEngine engine, WatchLimits limits, IServerStreamWriter<WatchResponse> events, CancellationToken cancellationToken)
{
    private const int MaxQueuedRequests = 8;
    private static readonly TimeSpan StoreRetryDelay = TimeSpan.FromSeconds(1);

    private readonly Channel<object> _work = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _requestRoom = new(MaxQueuedRequests, MaxQueuedRequests);
    private readonly Dictionary<ulong, WatchedUser> _users = [];
    private readonly UserSnapshot _snapshot = new();

    /// <summary>Called by a subscription whose user changed (any thread, right after a shard lock is released).</summary>
    public void Enqueue(WatchedUser user) => _work.Writer.TryWrite(user);

    public async Task RunAsync(IAsyncStreamReader<WatchRequest> requests)
    {
        // The reader stops with the pump: a pump that failed (a limit) must not wait for the client's next message.
        using var stopReading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = ReadRequestsAsync(requests, stopReading.Token);
        try
        {
            await PumpAsync().ConfigureAwait(false);
        }
        catch (ChannelClosedException closed) when (closed.InnerException is { } inner)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(inner);
        }
        finally
        {
            await stopReading.CancelAsync().ConfigureAwait(false);
            foreach (var user in _users.Values)
            {
                user.Active = false;
                engine.Unwatch(user);
            }
            _users.Clear();
            _work.Writer.TryComplete();
            try { await reader.ConfigureAwait(false); } catch { } // its failure, if any, already ended the pump
            _requestRoom.Dispose();
        }
    }

    private async Task ReadRequestsAsync(IAsyncStreamReader<WatchRequest> requests, CancellationToken stop)
    {
        try
        {
            while (await requests.MoveNext(stop).ConfigureAwait(false))
            {
                var request = requests.Current;
                RequestValidator.Validate(request, limits);
                await _requestRoom.WaitAsync(stop).ConfigureAwait(false);
                _work.Writer.TryWrite(request);
            }
            _work.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            // A bad message (or a broken stream) ends the pump with this error; nothing of the message was applied.
            _work.Writer.TryComplete(ex);
        }
    }

    private async Task PumpAsync()
    {
        var queue = _work.Reader;
        while (await queue.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (queue.TryRead(out var item))
            {
                if (item is WatchedUser user) await DeliverAsync(user).ConfigureAwait(false);
                else await ApplyAsync((WatchRequest)item).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Unsubscribes first, then subscribes (so unsubscribe + subscribe of one user in one message restarts it).</summary>
    private async Task ApplyAsync(WatchRequest request)
    {
        _requestRoom.Release();
        int added = 0;
        foreach (var s in request.Subscribe)
            if (!_users.ContainsKey(s.UserId) || request.UnsubscribeUserIds.Contains(s.UserId)) added++;
        int remaining = _users.Count;
        foreach (ulong id in request.UnsubscribeUserIds)
            if (_users.ContainsKey(id)) remaining--;
        if (remaining + added > limits.MaxSubscriptions)
            throw RpcErrors.Status(Google.Rpc.Code.ResourceExhausted,
                $"This stream would watch {remaining + added} users; the limit is {limits.MaxSubscriptions} (Service:MaxWatchSubscriptions). Open another stream.");

        foreach (ulong id in request.UnsubscribeUserIds)
        {
            ulong delivered = 0;
            if (_users.Remove(id, out var gone))
            {
                gone.Active = false;
                engine.Unwatch(gone);
                delivered = gone.Delivered;
            }
            await events.WriteAsync(new WatchResponse { UserId = id, Kind = WatchEventKind.Unsubscribed, FromVersion = delivered, Version = delivered }, cancellationToken)
                .ConfigureAwait(false);
        }
        foreach (var s in request.Subscribe)
        {
            if (!_users.TryGetValue(s.UserId, out var user))
            {
                user = new WatchedUser(s.UserId, this);
                _users.Add(s.UserId, user);
                // Registered before its first read, so a change landing in between is never missed.
                engine.Watch(user);
            }
            user.ResumeFrom = s.HasSinceVersion ? s.SinceVersion : null;
            user.Started = false;
            user.MarkPending();
        }
    }

    private async Task DeliverAsync(WatchedUser user)
    {
        if (!user.Active) return;
        user.TakePending(); // before the read: a change after it marks the user again
        ulong? since = user.Started ? user.Delivered : user.ResumeFrom;
        try
        {
            await engine.ReadChangesAsync(user.UserId, since, default, _snapshot, cancellationToken).ConfigureAwait(false);
        }
        catch (VersionAheadException ahead)
        {
            await ResyncAsync(user, ahead.Since, ahead.Current, ResyncReason.VersionAhead).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is StoreUnavailableException or BackpressureException)
        {
            // The user could not be loaded: try again shortly; the stream and the other users go on.
            _ = RetryLaterAsync(user);
            return;
        }

        var snapshot = _snapshot;
        ulong from = since ?? snapshot.Version;
        if (snapshot.Sync == Core.SyncStatus.ResyncRequired)
        {
            await ResyncAsync(user, from, snapshot.Version, ResyncReason.HistoryCompacted).ConfigureAwait(false);
            return;
        }
        if (user.Started && snapshot.Version == user.Delivered) return; // a mark for a change already delivered
        if (snapshot.States.Length + snapshot.Deleted.Length > limits.MaxEventStates)
        {
            await ResyncAsync(user, from, snapshot.Version, ResyncReason.TooManyChanges).ConfigureAwait(false);
            return;
        }
        var changes = GetResponseBuilder.From(snapshot);
        user.Delivered = snapshot.Version;
        user.Started = true;
        await events.WriteAsync(new WatchResponse
        {
            UserId = user.UserId,
            Kind = WatchEventKind.Changes,
            FromVersion = from,
            Version = snapshot.Version,
            Changes = changes,
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task ResyncAsync(WatchedUser user, ulong from, ulong version, ResyncReason reason)
    {
        user.Delivered = version;
        user.Started = true;
        await events.WriteAsync(new WatchResponse { UserId = user.UserId, Kind = WatchEventKind.Resync, FromVersion = from, Version = version, ResyncReason = reason },
            cancellationToken).ConfigureAwait(false);
    }

    private async Task RetryLaterAsync(WatchedUser user)
    {
        try
        {
            await Task.Delay(StoreRetryDelay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (user.Active) user.MarkPending();
    }
}
