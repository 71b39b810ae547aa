using Grpc.Core;
using Grpc.Net.Client;
using ReadStates.Api.V1;
using Client = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Bench.Watch;

/// <summary>
/// A gateway's side of Watch: a few streams, each on its own HTTP/2 connection, users spread over them by id;
/// each stream's reader reports every event to the tracker and counts the subscriptions it confirmed.
/// </summary>
internal sealed class WatchStreams : IAsyncDisposable
{
    private const int UsersPerMessage = 1000;

    private readonly GrpcChannel[] _channels;
    private readonly AsyncDuplexStreamingCall<WatchRequest, WatchResponse>[] _calls;
    private readonly Task[] _readers;
    private readonly CancellationTokenSource _stop = new();
    private readonly int[] _confirmed;
    private long _confirmations;

    public WatchStreams(string address, int streams, long maxUser, DeliveryTracker? tracker)
    {
        _channels = new GrpcChannel[streams];
        _calls = new AsyncDuplexStreamingCall<WatchRequest, WatchResponse>[streams];
        _readers = new Task[streams];
        _confirmed = new int[maxUser + 1];
        for (int i = 0; i < streams; i++)
        {
            _channels[i] = WatchLoadTarget.Channel(address);
            _calls[i] = new Client(_channels[i]).Watch(cancellationToken: _stop.Token);
            var call = _calls[i];
            _readers[i] = Task.Run(() => ReadAsync(call, tracker));
        }
    }

    public long Confirmations => Interlocked.Read(ref _confirmations);

    /// <summary>Subscribes users 1..<paramref name="users"/> (user u on stream u mod streams), in messages of 1,000, from now on.</summary>
    public async Task SubscribeAsync(long users)
    {
        var pending = new WatchRequest[_calls.Length];
        for (long u = 1; u <= users; u++)
        {
            int s = (int)(u % _calls.Length);
            (pending[s] ??= new WatchRequest()).Subscribe.Add(new WatchSubscription { UserId = (ulong)u });
            if (pending[s].Subscribe.Count < UsersPerMessage) continue;
            await _calls[s].RequestStream.WriteAsync(pending[s]);
            pending[s] = null!;
        }
        for (int s = 0; s < pending.Length; s++)
            if (pending[s] is { } rest) await _calls[s].RequestStream.WriteAsync(rest);
    }

    public async Task UnsubscribeAsync(long users)
    {
        for (int s = 0; s < _calls.Length; s++)
        {
            var request = new WatchRequest();
            for (long u = 1; u <= users; u++)
                if ((int)(u % _calls.Length) == s) request.UnsubscribeUserIds.Add((ulong)u);
            for (int i = 0; i < request.UnsubscribeUserIds.Count; i += UsersPerMessage)
            {
                var part = new WatchRequest();
                part.UnsubscribeUserIds.AddRange(request.UnsubscribeUserIds.Skip(i).Take(UsersPerMessage));
                await _calls[s].RequestStream.WriteAsync(part);
            }
        }
    }

    /// <summary>Waits until <paramref name="count"/> confirmations (first events, or unsubscribe answers) arrived.</summary>
    public async Task<bool> WaitForConfirmationsAsync(long count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Confirmations < count)
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(50);
        }
        return true;
    }

    private async Task ReadAsync(AsyncDuplexStreamingCall<WatchRequest, WatchResponse> call, DeliveryTracker? tracker)
    {
        try
        {
            await foreach (var e in call.ResponseStream.ReadAllAsync(_stop.Token))
            {
                if (e.Kind == WatchEventKind.Unsubscribed)
                {
                    Interlocked.Increment(ref _confirmations);
                    continue;
                }
                if (e.UserId < (ulong)_confirmed.Length && Interlocked.Exchange(ref _confirmed[e.UserId], 1) == 0)
                {
                    Interlocked.Increment(ref _confirmations);
                    continue; // the subscription's confirmation, not a change
                }
                tracker?.Delivered(e.UserId, e.Version, e.Kind == WatchEventKind.Resync);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (RpcException ex)
        {
            Console.Error.WriteLine($"watch: a stream ended: {ex.Status}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await Task.WhenAll(_readers).WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
        foreach (var c in _calls) c.Dispose();
        foreach (var c in _channels) c.Dispose();
        _stop.Dispose();
    }
}
