using System.Collections.Concurrent;
using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.Client;
using ReadStates.Api.V1;
using Client = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Bench.Load;

/// <summary>
/// ReadStates over the bidirectional <c>Stream</c> RPC: one stream per connection, every op an entry with its own
/// id, at most <c>--stream-inflight</c> unanswered per stream. Writes of a burst go out with BufferHint and one
/// flush; request messages are pooled and refilled, so the generator's cost per op stays small at high rates.
/// </summary>
internal sealed class GrpcStreamTarget(string address, int maxInFlight) : ILoadTarget
{
    /// <summary>Acks answer only `applied`: what a high-rate caller asks for (StreamRequest.omit_states).</summary>
    private const bool OmitStates = true;

    private Lane[] _lanes = [];
    private GrpcChannel[] _channels = [];

    public string Name => "readstates-stream";
    public string Address => address;

    public async Task ConnectAsync(int connections, CancellationToken ct)
    {
        _channels = new GrpcChannel[connections];
        _lanes = new Lane[connections];
        for (int i = 0; i < connections; i++)
        {
            var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan };
            _channels[i] = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, MaxRetryAttempts = 0 });
            await _channels[i].ConnectAsync(ct);
            _lanes[i] = new Lane(new Client(_channels[i]), maxInFlight);
        }
    }

    public Task ExecuteAsync(int connection, Op op, CancellationToken ct) => _lanes[connection].SendAsync(op, ct);

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes) await lane.DisposeAsync();
        foreach (var c in _channels) c.Dispose();
    }

    /// <summary>One stream: a send queue drained by one writer, a reader that completes each op by its id.</summary>
    private sealed class Lane : IAsyncDisposable
    {
        private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);
        private static readonly WriteOptions Flushed = new();
        private readonly AsyncDuplexStreamingCall<StreamRequest, StreamResponse> _call;
        private readonly Channel<StreamRequest> _queue = Channel.CreateUnbounded<StreamRequest>(); // multi-reader kind: it can Count
        private readonly ConcurrentDictionary<ulong, TaskCompletionSource> _waiting = new();
        private readonly ConcurrentBag<StreamRequest> _pool = [];
        private readonly SemaphoreSlim _slots;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _writer, _reader;
        private long _nextId;

        public Lane(Client client, int maxInFlight)
        {
            _slots = new SemaphoreSlim(maxInFlight, maxInFlight);
            _call = client.Stream(cancellationToken: _stop.Token);
            _writer = Task.Run(WriteLoop);
            _reader = Task.Run(ReadLoop);
        }

        public async Task SendAsync(Op op, CancellationToken ct)
        {
            await _slots.WaitAsync(ct).ConfigureAwait(false);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            ulong id = (ulong)Interlocked.Increment(ref _nextId);
            _waiting[id] = done;
            var request = _pool.TryTake(out var r) ? r : new StreamRequest();
            Fill(request, id, op);
            _queue.Writer.TryWrite(request);
            try
            {
                await done.Task.WaitAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                _waiting.TryRemove(id, out _);
                _slots.Release();
            }
        }

        private async Task WriteLoop()
        {
            var reader = _queue.Reader;
            try
            {
                while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
                {
                    while (reader.TryRead(out var request))
                    {
                        // More queued: buffer; the last of the burst flushes.
                        _call.RequestStream.WriteOptions = reader.Count > 0 ? Buffered : Flushed;
                        await _call.RequestStream.WriteAsync(request).ConfigureAwait(false);
                        _pool.Add(request);
                    }
                }
            }
            catch (Exception ex)
            {
                FailAll(ex);
            }
        }

        private async Task ReadLoop()
        {
            try
            {
                await foreach (var response in _call.ResponseStream.ReadAllAsync(_stop.Token).ConfigureAwait(false))
                {
                    if (!_waiting.TryGetValue(response.Id, out var done)) continue;
                    if (response.Status is { } status) done.TrySetException(new RpcException(new Status((StatusCode)status.Code, status.Message)));
                    else done.TrySetResult();
                }
                FailAll(new RpcException(new Status(StatusCode.Unavailable, "The stream ended.")));
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException)
            {
                FailAll(ex);
            }
        }

        private void FailAll(Exception ex)
        {
            foreach (var waiting in _waiting.Values) waiting.TrySetException(ex);
        }

        /// <summary>Refills a pooled request for the op, reusing its nested messages where the kind is the same.</summary>
        private static void Fill(StreamRequest r, ulong id, Op op)
        {
            r.Id = id;
            r.OmitStates = OmitStates;
            switch (op.Kind)
            {
                case OpKind.Ack:
                    var ack = r.Ack ?? new AckRequest();
                    ack.UserId = op.User;
                    ack.ChannelId = op.Channel;
                    ack.MessageId = op.Message;
                    r.Ack = ack;
                    break;
                case OpKind.BulkAck:
                    var bulk = r.BulkAck ?? new BulkAckRequest();
                    bulk.UserId = op.User;
                    var entries = bulk.Entries;
                    while (entries.Count > op.Channels.Length) entries.RemoveAt(entries.Count - 1);
                    while (entries.Count < op.Channels.Length) entries.Add(new BulkAckEntry());
                    for (int i = 0; i < op.Channels.Length; i++)
                    {
                        entries[i].ChannelId = op.Channels[i];
                        entries[i].MessageId = op.Message;
                    }
                    r.BulkAck = bulk;
                    break;
                case OpKind.Mention:
                    var mention = r.AddMentions ?? new AddMentionsRequest();
                    mention.ChannelId = op.Channel;
                    mention.MessageId = op.Message;
                    mention.UserIds.Clear();
                    mention.UserIds.AddRange(op.Users);
                    r.AddMentions = mention;
                    break;
                case OpKind.Get:
                    var get = r.Get ?? new GetRequest();
                    get.UserId = op.User;
                    get.ChannelIds.Clear();
                    get.ChannelIds.AddRange(op.Channels);
                    r.Get = get;
                    break;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _queue.Writer.TryComplete();
            try { await _call.RequestStream.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); } catch (Exception) { }
            await _stop.CancelAsync().ConfigureAwait(false);
            try { await Task.WhenAll(_writer, _reader).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); } catch (Exception) { }
            _call.Dispose();
            _stop.Dispose();
        }
    }
}
