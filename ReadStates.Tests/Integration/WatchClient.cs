using System.Threading.Channels;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>
/// A Watch stream as a gateway would hold it: requests go out on the call, events are read into a queue by
/// a background task (or, with <c>autoRead: false</c>, only when the test asks: a slow consumer).
/// </summary>
internal sealed class WatchClient : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<WatchRequest, WatchResponse> _call;
    private readonly Channel<WatchResponse> _events = Channel.CreateUnbounded<WatchResponse>();
    private readonly CancellationTokenSource _cancel = new();
    private Task? _reader;

    public WatchClient(ReadStatesClient client, bool autoRead = true)
    {
        _call = client.Watch(cancellationToken: _cancel.Token);
        if (autoRead) StartReading();
    }

    /// <summary>How the stream ended (null while it runs).</summary>
    public RpcException? Error { get; private set; }
    public bool Ended { get; private set; }

    public void StartReading() => _reader ??= Task.Run(ReadAllAsync);

    private async Task ReadAllAsync()
    {
        try
        {
            await foreach (var e in _call.ResponseStream.ReadAllAsync())
                _events.Writer.TryWrite(e);
        }
        catch (RpcException ex)
        {
            Error = ex;
        }
        finally
        {
            Ended = true;
            _events.Writer.TryComplete();
        }
    }

    public Task SendAsync(WatchRequest request) => _call.RequestStream.WriteAsync(request);

    public Task SubscribeAsync(ulong user, ulong? since = null)
    {
        var s = new WatchSubscription { UserId = user };
        if (since is { } v) s.SinceVersion = v;
        return SendAsync(new WatchRequest { Subscribe = { s } });
    }

    public Task UnsubscribeAsync(ulong user) => SendAsync(new WatchRequest { UnsubscribeUserIds = { user } });

    public Task CompleteAsync() => _call.RequestStream.CompleteAsync();

    /// <summary>The next event, or null when the stream ended or nothing came within <paramref name="timeout"/>.</summary>
    public async Task<WatchResponse?> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await _events.Reader.ReadAsync(cts.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            return null;
        }
    }

    /// <summary>Reads events until one matches; throws after <paramref name="timeout"/>. Every event read is passed to <paramref name="seen"/>.</summary>
    public async Task<WatchResponse> WaitForAsync(Func<WatchResponse, bool> match, TimeSpan timeout, Action<WatchResponse>? seen = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException("no matching watch event in time");
            var e = await NextAsync(left) ?? throw new InvalidOperationException($"the stream ended: {Error?.Status}");
            seen?.Invoke(e);
            if (match(e)) return e;
        }
    }

    /// <summary>Disconnects abruptly (the client goes away).</summary>
    public void Cancel() => _cancel.Cancel();

    public async ValueTask DisposeAsync()
    {
        _cancel.Cancel();
        if (_reader is not null)
        {
            try { await _reader.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
        }
        _call.Dispose();
        _cancel.Dispose();
    }
}

/// <summary>
/// One user as a watching device sees it: the version its stream reached, and its copy of the states, fed only
/// by events (and a full Get after a RESYNC). Checks that events are contiguous: each starts where the last ended.
/// </summary>
internal sealed class WatchedCopy
{
    public ulong StreamVersion;
    public ulong Version;
    public bool Confirmed;
    public int Events;
    public int Resyncs;
    public SortedDictionary<ulong, ReadState> States { get; } = [];

    public async Task ApplyAsync(WatchResponse e, ReadStatesClient client)
    {
        Events++;
        if (Confirmed) Assert.True(e.FromVersion == StreamVersion, $"user {e.UserId}: event from {e.FromVersion}, stream was at {StreamVersion} (a gap or a duplicate)");
        Assert.True(e.Version >= e.FromVersion);
        Confirmed = true;
        StreamVersion = e.Version;
        switch (e.Kind)
        {
            case WatchEventKind.Changes:
                Assert.Equal(SyncStatus.Changes, e.Changes.Sync);
                Assert.Equal(e.Version, e.Changes.Version);
                if (e.Version <= Version) return; // already in a full Get taken after a resync
                foreach (var s in e.Changes.States)
                {
                    Assert.InRange(s.Version, e.FromVersion + 1, e.Version);
                    States[s.ChannelId] = s;
                }
                foreach (var d in e.Changes.Deleted)
                {
                    Assert.InRange(d.Version, e.FromVersion + 1, e.Version);
                    States.Remove(d.ChannelId);
                }
                Version = e.Version;
                return;
            case WatchEventKind.Resync:
                Resyncs++;
                var full = await client.GetAsync(new GetRequest { UserId = e.UserId });
                Assert.True(full.Version >= e.Version);
                States.Clear();
                foreach (var s in full.States) States[s.ChannelId] = s;
                Version = full.Version;
                return;
            default:
                throw new InvalidOperationException($"unexpected {e.Kind}");
        }
    }
}
