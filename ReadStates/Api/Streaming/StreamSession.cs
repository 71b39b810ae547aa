using System.Diagnostics;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStates.Core;
using OpCase = ReadStates.Api.V1.StreamRequest.OpOneofCase;

namespace ReadStates.Api.Streaming;

/// <summary>
/// One <c>Stream</c> call: reads operations, runs each (synchronously for resident users), and answers each
/// with its id and its own result or status. Back-pressure: at most <see cref="RequestLimits.StreamMaxInFlight"/>
/// unanswered operations; past that the session stops reading, and HTTP/2 flow control stops the sender.
/// Order: an operation on a user that an earlier, still-pending operation of this stream touches waits for it.
/// </summary>
/// <remarks>
/// Replies of synchronous operations are written with <see cref="WriteFlags.BufferHint"/> and the last one is
/// held back, so a burst of operations read from one HTTP/2 DATA frame is answered with one flush, made when
/// the next read would block. Replies of operations that went async are written and flushed when they finish.
/// </remarks>
internal sealed class StreamSession
{
    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);
    private static readonly WriteOptions Flushed = new();

    private readonly ReadStateEngine _engine;
    private readonly RequestLimits _limits;
    private readonly StreamErrors _errors;
    private readonly IAsyncStreamReader<StreamRequest> _reader;
    private readonly IServerStreamWriter<StreamResponse> _writer;
    private readonly ServerCallContext _context;
    private readonly Permission _caller;
    private readonly SemaphoreSlim _capacity;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Lock _gate = new();
    // Guarded by _gate: the users of pending operations (the last pending task of each), the pending
    // operations by id (for StreamCancel), the pool of per-operation cancellation sources.
    private readonly Dictionary<ulong, PendingOperation> _busyUsers = [];
    private readonly Dictionary<ulong, PendingOperation> _pending = [];
    private readonly Stack<PendingOperation> _pool = new();
    private int _busyCount;
    private int _outstanding = 1; // the read loop's own reference; the last one out completes _drained
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Guarded by _writeLock.
    private StreamResponse? _held;

    public StreamSession(ReadStateEngine engine, RequestLimits limits, StreamErrors errors,
        IAsyncStreamReader<StreamRequest> reader, IServerStreamWriter<StreamResponse> writer, ServerCallContext context)
    {
        _engine = engine;
        _limits = limits;
        _errors = errors;
        _reader = reader;
        _writer = writer;
        _context = context;
        _caller = CallerPermissions.Of(context);
        _capacity = new SemaphoreSlim(limits.StreamMaxInFlight, limits.StreamMaxInFlight);
    }

    public async Task RunAsync()
    {
        var ct = _context.CancellationToken;
        using var onCallEnd = ct.UnsafeRegister(static s => ((StreamSession)s!).CancelAll(), this);
        try
        {
            while (true)
            {
                // A slot first, then the next operation: at the bound nothing more is read, so HTTP/2 flow
                // control (not a buffer of ours) holds the sender back.
                if (!_capacity.Wait(0))
                {
                    await FlushHeldAsync().ConfigureAwait(false);
                    await _capacity.WaitAsync(ct).ConfigureAwait(false);
                }
                var next = _reader.MoveNext(ct);
                // About to wait for the caller: what is buffered goes out first.
                if (!next.IsCompleted) await FlushHeldAsync().ConfigureAwait(false);
                if (!await next.ConfigureAwait(false))
                {
                    _capacity.Release();
                    break;
                }
                await StartAsync(_reader.Current).ConfigureAwait(false);
            }
        }
        finally
        {
            // Every started operation answers (or is cancelled with the call) before the call ends.
            if (Interlocked.Decrement(ref _outstanding) == 0) _drained.TrySetResult();
            await _drained.Task.ConfigureAwait(false);
        }
        await FlushHeldAsync().ConfigureAwait(false);
    }

    private ValueTask StartAsync(StreamRequest request)
    {
        if (request.OpCase == OpCase.Cancel) return AnswerAsync(new StreamResponse { Id = request.Id, Cancel = new StreamCancelResponse { Found = Cancel(request.Cancel.Id) } });

        if (Volatile.Read(ref _busyCount) > 0 && Predecessors(request) is { } before)
        {
            var chained = RentToken(request);
            Register(request, chained);
            Attach(chained, RunAfterAsync(request, chained, before));
            return default;
        }

        var op = RentToken(request);
        ValueTask<StreamResponse> pending;
        try
        {
            pending = StreamOperations.Start(_engine, _limits, request, _caller, op.Token);
        }
        catch (Exception ex)
        {
            ReturnToken(op);
            return AnswerAsync(_errors.ToResponse(request.Id, ex, op, _context));
        }
        if (pending.IsCompletedSuccessfully)
        {
            ReturnToken(op);
            return AnswerAsync(pending.Result);
        }
        op.ArmTimeout();
        Register(request, op);
        Attach(op, CompleteAsync(pending, op));
        return default;
    }

    /// <summary>A synchronous answer from the read loop: buffered, the last one held back until the next flush.</summary>
    private async ValueTask AnswerAsync(StreamResponse response)
    {
        try
        {
            await WriteAsync(response, flush: false).ConfigureAwait(false);
        }
        finally
        {
            _capacity.Release();
        }
    }

    private async Task CompleteAsync(ValueTask<StreamResponse> pending, PendingOperation op)
    {
        StreamResponse response;
        try
        {
            response = await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            response = _errors.ToResponse(op.Id, ex, op, _context);
        }
        await FinishAsync(response, op).ConfigureAwait(false);
    }

    private async Task RunAfterAsync(StreamRequest request, PendingOperation op, Task before)
    {
        op.ArmTimeout();
        // The predecessors never fault (they answer their own errors); a timeout or cancel still ends the wait.
        await before.WaitAsync(op.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        StreamResponse response;
        try
        {
            op.Token.ThrowIfCancellationRequested();
            response = await StreamOperations.Start(_engine, _limits, request, _caller, op.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            response = _errors.ToResponse(request.Id, ex, op, _context);
        }
        await FinishAsync(response, op).ConfigureAwait(false);
    }

    private async Task FinishAsync(StreamResponse response, PendingOperation op)
    {
        try
        {
            await WriteAsync(response, flush: true).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The call is over (cancelled, or the caller went away): nobody is left to answer.
        }
        finally
        {
            Untrack(op);
            _capacity.Release();
            if (Interlocked.Decrement(ref _outstanding) == 0) _drained.TrySetResult();
        }
    }

    private async ValueTask WriteAsync(StreamResponse response, bool flush)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_held is { } earlier)
            {
                _writer.WriteOptions = Buffered;
                await _writer.WriteAsync(earlier).ConfigureAwait(false);
            }
            _held = response;
            if (flush)
            {
                _held = null;
                _writer.WriteOptions = Flushed;
                await _writer.WriteAsync(response).ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async ValueTask FlushHeldAsync()
    {
        if (Volatile.Read(ref _held) is null) return;
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_held is { } last)
            {
                _held = null;
                _writer.WriteOptions = Flushed;
                await _writer.WriteAsync(last).ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // ---- order, cancellation, per-operation tokens ---------------------------------------------------

    private struct PredecessorScan(StreamSession session)
    {
        public readonly StreamSession Session = session;
        public Task? Single;
        public List<Task>? Many;
    }

    /// <summary>The pending operations this one must follow (they touch one of its users), or null.</summary>
    private Task? Predecessors(StreamRequest request)
    {
        var scan = new PredecessorScan(this);
        lock (_gate)
        {
            StreamOperations.ForEachUser(request, ref scan, static (ref PredecessorScan s, ulong user) =>
            {
                Debug.Assert(s.Session._gate.IsHeldByCurrentThread);
                // Task is null only while the read loop (this thread) is between Register and Attach.
                if (!s.Session._busyUsers.TryGetValue(user, out var op) || op.Task is not { } task) return;
                if (task == s.Single || (s.Many?.Contains(task) ?? false)) return;
                if (s.Single is null) s.Single = task;
                else (s.Many ??= [s.Single]).Add(task);
            });
        }
        return scan.Many is { } many ? Task.WhenAll(many) : scan.Single;
    }

    /// <summary>Before the operation's task starts: it counts as outstanding, StreamCancel finds it, later operations on its users follow it.</summary>
    private void Register(StreamRequest request, PendingOperation op)
    {
        Interlocked.Increment(ref _outstanding);
        lock (_gate)
        {
            op.Registered = _pending.TryAdd(op.Id, op);
            op.Request = request;
            var state = (Session: this, Op: op);
            StreamOperations.ForEachUser(request, ref state, static (ref (StreamSession Session, PendingOperation Op) s, ulong user) =>
            {
                s.Session._busyUsers[user] = s.Op;
            });
            _busyCount = _busyUsers.Count;
        }
    }

    /// <summary>Gives the pending operation its task, unless it already finished (then it is unregistered and pooled).</summary>
    private void Attach(PendingOperation op, Task task)
    {
        lock (_gate)
            if (op.Request is not null) op.Task = task;
    }

    private void Untrack(PendingOperation op)
    {
        lock (_gate)
        {
            if (op.Registered) _pending.Remove(op.Id);
            if (op.Request is { } request)
            {
                var state = (Session: this, Op: op);
                // Only entries that still point at this operation: a later one on the same user replaced it.
                StreamOperations.ForEachUser(request, ref state, static (ref (StreamSession Session, PendingOperation Op) s, ulong user) =>
                {
                    if (s.Session._busyUsers.TryGetValue(user, out var o) && o == s.Op) s.Session._busyUsers.Remove(user);
                });
            }
            _busyCount = _busyUsers.Count;
            op.Request = null;
            op.Recycle();
            if (_pool.Count < 64) _pool.Push(op);
        }
    }

    private bool Cancel(ulong id)
    {
        lock (_gate)
        {
            if (!_pending.TryGetValue(id, out var op)) return false;
            op.CancelByCaller();
            return true;
        }
    }

    private void CancelAll()
    {
        lock (_gate)
            foreach (var op in _pending.Values) op.CancelQuietly();
    }

    private PendingOperation RentToken(StreamRequest request)
    {
        PendingOperation? op;
        lock (_gate) _pool.TryPop(out op);
        return (op ?? new PendingOperation()).Begin(request.Id, request.TimeoutMs);
    }

    /// <summary>An operation that never registered (it completed synchronously) goes back to the pool.</summary>
    private void ReturnToken(PendingOperation op)
    {
        op.Recycle();
        lock (_gate)
            if (_pool.Count < 64) _pool.Push(op);
    }
}
