using System.Threading.Channels;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>The bidirectional Stream RPC through the real service: per-operation ids, results and statuses, back-pressure, order, timeouts, cancellation.</summary>
public sealed class StreamTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly TempDir _dir = new();
    private GatedStore _store = null!;
    private RunningService _service = null!;
    private ReadStatesClient Client => _service.Client;

    public async Task InitializeAsync()
    {
        _service = await RunningService.StartAsync(_dir.Path, builder => builder.Services.AddSingleton<IReadStateStore>(sp =>
            _store = new GatedStore(new RocksDbStore(new RocksDbStoreOptions { Path = _dir.Path, BlockCacheMb = 8 }, sp.GetRequiredService<ILogger<RocksDbStore>>()))),
            "Service:StreamMaxInFlight=4", "Service:MaxBulkAckEntries=5");
    }

    public async Task DisposeAsync()
    {
        _store.Open();
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>A stream with its replies collected as they come.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly AsyncDuplexStreamingCall<StreamRequest, StreamResponse> _call;
        private readonly Channel<StreamResponse> _replies = Channel.CreateUnbounded<StreamResponse>();
        private readonly Task _reader;

        public Session(ReadStatesClient client, DateTime? deadline = null)
        {
            _call = client.Stream(deadline: deadline);
            _reader = Task.Run(async () =>
            {
                try
                {
                    await foreach (var r in _call.ResponseStream.ReadAllAsync()) await _replies.Writer.WriteAsync(r);
                    _replies.Writer.TryComplete();
                }
                catch (Exception ex)
                {
                    _replies.Writer.TryComplete(ex);
                }
            });
        }

        public Task SendAsync(StreamRequest r) => _call.RequestStream.WriteAsync(r);

        public async Task<StreamResponse> NextAsync() => await _replies.Reader.ReadAsync().AsTask().WaitAsync(Patience);

        /// <summary>True when no reply arrives within the window.</summary>
        public async Task<bool> QuietForAsync(TimeSpan window)
        {
            using var cts = new CancellationTokenSource(window);
            try
            {
                await _replies.Reader.WaitToReadAsync(cts.Token);
                return false;
            }
            catch (OperationCanceledException)
            {
                return true;
            }
        }

        public async Task<List<StreamResponse>> CompleteAsync()
        {
            await _call.RequestStream.CompleteAsync();
            var rest = new List<StreamResponse>();
            await foreach (var r in _replies.Reader.ReadAllAsync().WithCancellation(new CancellationTokenSource(Patience).Token)) rest.Add(r);
            await _reader;
            return rest;
        }

        public Task ReaderTask => _reader;

        public async ValueTask DisposeAsync()
        {
            _call.Dispose();
            try { await _reader.WaitAsync(Patience); } catch (Exception) { }
        }
    }

    private static StreamRequest Ack(ulong id, ulong user, ulong channel, ulong message, uint timeoutMs = 0) =>
        new() { Id = id, TimeoutMs = timeoutMs, Ack = new AckRequest { UserId = user, ChannelId = channel, MessageId = message } };

    private static StreamRequest Get(ulong id, ulong user) => new() { Id = id, Get = new GetRequest { UserId = user } };

    [Fact]
    public async Task ManyOperations_EachAnsweredWithItsIdAndResult()
    {
        await using var s = new Session(Client);
        await s.SendAsync(Ack(1, 100, 10, 500));
        var bulk = new BulkAckRequest { UserId = 100 };
        bulk.Entries.Add(new BulkAckEntry { ChannelId = 11, MessageId = 600 });
        bulk.Entries.Add(new BulkAckEntry { ChannelId = 12, MessageId = 700 });
        await s.SendAsync(new StreamRequest { Id = 2, BulkAck = bulk });
        var mention = new AddMentionsRequest { ChannelId = 10, MessageId = 800 };
        mention.UserIds.Add(100);
        mention.UserIds.Add(101);
        await s.SendAsync(new StreamRequest { Id = 3, AddMentions = mention });
        await s.SendAsync(Get(4, 100));
        var brief = Ack(5, 100, 13, 900);
        brief.OmitStates = true;
        await s.SendAsync(brief);
        var all = await s.CompleteAsync();
        var briefReply = Assert.Single(all, r => r.Id == 5);
        Assert.True(briefReply.Ack.Applied);
        Assert.Null(briefReply.Ack.State);
        var replies = all.Where(r => r.Id <= 4).ToList();

        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, replies.Select(r => r.Id).Order());
        Assert.All(replies, r => Assert.Null(r.Status));
        var byId = replies.ToDictionary(r => r.Id);
        Assert.True(byId[1].Ack.Applied);
        Assert.Equal(500UL, byId[1].Ack.State.LastMessageId);
        Assert.Equal([600UL, 700], byId[2].BulkAck.Results.Select(x => x.State.LastMessageId));
        Assert.Equal(2U, byId[3].AddMentions.Counted);
        var got = byId[4].Get;
        Assert.Equal([10UL, 11, 12], got.States.Select(x => x.ChannelId));
        Assert.Equal(1UL, got.TotalMentions);
        var unaryAfter = await Client.GetAsync(new GetRequest { UserId = 100 });
        Assert.Contains(unaryAfter.States, x => x.ChannelId == 13 && x.LastMessageId == 900); // omit_states: applied all the same

        // The unary API sees the same state.
        var unary = await Client.GetAsync(new GetRequest { UserId = 101 });
        Assert.Equal(1UL, unary.TotalMentions);
    }

    [Fact]
    public async Task BadEntries_GetTheirOwnInvalidArgument_ChangeNothing_AndTheStreamGoesOn()
    {
        await using var s = new Session(Client);
        await s.SendAsync(Ack(1, 0, 10, 500));                                     // zero user id
        var tooMany = new BulkAckRequest { UserId = 200 };
        for (int i = 0; i < 6; i++) tooMany.Entries.Add(new BulkAckEntry { ChannelId = 10 + (ulong)i, MessageId = 9 }); // over MaxBulkAckEntries=5
        await s.SendAsync(new StreamRequest { Id = 2, BulkAck = tooMany });
        await s.SendAsync(new StreamRequest { Id = 3 });                           // no operation
        await s.SendAsync(Ack(4, 200, 10, 500));                                   // fine
        var replies = (await s.CompleteAsync()).ToDictionary(r => r.Id);

        AssertInvalid(replies[1], "user_id");
        AssertInvalid(replies[2], "entries");
        AssertInvalid(replies[3], "op");
        Assert.Null(replies[4].Status);
        Assert.True(replies[4].Ack.Applied);

        var states = await Client.GetAsync(new GetRequest { UserId = 200 });
        Assert.Equal([10UL], states.States.Select(x => x.ChannelId)); // the rejected bulk ack created nothing
        Assert.Equal(500UL, states.States[0].LastMessageId);

        static void AssertInvalid(StreamResponse r, string field)
        {
            Assert.NotNull(r.Status);
            Assert.Equal((int)Code.InvalidArgument, r.Status.Code);
            Assert.Equal(StreamResponse.ResultOneofCase.None, r.ResultCase);
            var bad = r.Status.Details.Single().Unpack<BadRequest>();
            Assert.Contains(bad.FieldViolations, v => v.Field == field);
        }
    }

    [Fact]
    public async Task PastTheInFlightBound_TheServerStopsReading_UntilOperationsFinish()
    {
        await Client.AckAsync(new AckRequest { UserId = 399, ChannelId = 10, MessageId = 1 }); // resident: answered at once when read
        _store.Close();
        await using var s = new Session(Client);
        // Four cold users: each waits for its load, which the gate holds. That is the whole bound (4).
        for (ulong i = 1; i <= 4; i++) await s.SendAsync(Ack(i, 300 + i, 10, 500));
        await _store.WaitForWaitersAsync(4, Patience);
        // A fifth operation is not even read while four are unanswered.
        await s.SendAsync(Get(5, 399));
        Assert.True(await s.QuietForAsync(TimeSpan.FromMilliseconds(500)));

        _store.Open();
        var replies = (await s.CompleteAsync()).ToDictionary(r => r.Id);
        Assert.Equal(5, replies.Count);
        for (ulong i = 1; i <= 4; i++) Assert.True(replies[i].Ack.Applied);
        Assert.Equal(1UL, replies[5].Get.States.Single().LastMessageId);
    }

    [Fact]
    public async Task OperationsOnOneUser_ApplyInTheOrderSent_EvenWhileItLoads()
    {
        _store.Close();
        await using var s = new Session(Client);
        await s.SendAsync(Ack(1, 400, 10, 500));
        await _store.WaitForWaitersAsync(1, Patience);
        await s.SendAsync(Ack(2, 400, 10, 700));
        await s.SendAsync(Get(3, 400));
        await s.SendAsync(Ack(4, 401, 10, 100)); // another cold user: not held behind user 400
        _store.Open();
        var replies = (await s.CompleteAsync()).ToDictionary(r => r.Id);
        Assert.Equal(500UL, replies[1].Ack.State.LastMessageId);
        Assert.Equal(700UL, replies[2].Ack.State.LastMessageId);
        Assert.Equal(700UL, replies[3].Get.States.Single().LastMessageId);
        Assert.True(replies[4].Ack.Applied);
    }

    [Fact]
    public async Task Timeout_AnswersDeadlineExceeded_Cancel_AnswersCancelled_AndNeitherApplies()
    {
        _store.Close();
        await using var s = new Session(Client);
        await s.SendAsync(Ack(1, 500, 10, 500, timeoutMs: 200));
        await s.SendAsync(Ack(2, 501, 10, 500));
        await _store.WaitForWaitersAsync(2, Patience);
        await s.SendAsync(new StreamRequest { Id = 3, Cancel = new StreamCancel { Id = 2 } });
        var first = new[] { await s.NextAsync(), await s.NextAsync(), await s.NextAsync() }.ToDictionary(r => r.Id);
        Assert.Equal((int)Code.DeadlineExceeded, first[1].Status.Code);
        Assert.Equal((int)Code.Cancelled, first[2].Status.Code);
        Assert.True(first[3].Cancel.Found);

        _store.Open();
        await s.SendAsync(Get(4, 500));
        await s.SendAsync(Get(5, 501));
        var rest = (await s.CompleteAsync()).ToDictionary(r => r.Id);
        Assert.Empty(rest[4].Get.States);
        Assert.Empty(rest[5].Get.States);
    }

    [Fact]
    public async Task CancellingTheCall_EndsTheStream_AndCancelsWaitingOperations()
    {
        _store.Close();
        var s = new Session(Client);
        await s.SendAsync(Ack(1, 600, 10, 500));
        await _store.WaitForWaitersAsync(1, Patience);
        await s.DisposeAsync(); // cancels the call (RST_STREAM)
        // The server learns of it when Kestrel reads the reset; the load is still held meanwhile.
        await Task.Delay(500);
        _store.Open();
        // The waiting ack was cancelled with the call, never applied (the load itself still completes).
        await Task.Delay(200);
        var state = await Client.GetAsync(new GetRequest { UserId = 600 });
        Assert.Empty(state.States);
    }

    /// <summary>The real store, whose loads wait at a gate the test opens and closes.</summary>
    private sealed class GatedStore(IReadStateStore inner) : IReadStateStore
    {
        private volatile TaskCompletionSource _gate = Opened();
        private int _waiters;

        private static TaskCompletionSource Opened()
        {
            var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            t.SetResult();
            return t;
        }

        public string Name => inner.Name;

        public void Close() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _gate.TrySetResult();

        public async Task WaitForWaitersAsync(int count, TimeSpan timeout)
        {
            var until = DateTime.UtcNow + timeout;
            while (Volatile.Read(ref _waiters) < count)
            {
                if (DateTime.UtcNow > until) throw new TimeoutException($"{_waiters} loads waiting, expected {count}.");
                await Task.Delay(10);
            }
        }

        public async Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
        {
            var gate = _gate;
            if (!gate.Task.IsCompleted)
            {
                Interlocked.Increment(ref _waiters);
                try { await gate.Task.WaitAsync(cancellationToken); }
                finally { Interlocked.Decrement(ref _waiters); }
            }
            await inner.LoadUserAsync(userId, into, cancellationToken);
        }

        public Task WriteAsync(StateBatch batch, CancellationToken cancellationToken) => inner.WriteAsync(batch, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
