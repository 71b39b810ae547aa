using System.Threading.Tasks.Sources;

namespace ReadStates.Cql;

/// <summary>
/// One stream id of a connection and the awaitable for its response. Reused for every request on that
/// stream, so waiting for a response allocates nothing. A request that times out or is cancelled is
/// "abandoned": its caller gets the error at once, but the stream id stays reserved until the late
/// response arrives (or the connection dies), so a stale reply can never be matched to a new request.
/// </summary>
internal sealed class PendingRequest : IValueTaskSource<CqlResponse>
{
    private const int Idle = 0, Waiting = 1, Done = 2, Abandoned = 3;

    private ManualResetValueTaskSourceCore<CqlResponse> _core = new() { RunContinuationsAsynchronously = true };
    private readonly CqlConnection _owner;
    private int _state;
    private int _holds;
    private CancellationTokenRegistration _cancellation;

    public PendingRequest(CqlConnection owner, short stream)
    {
        _owner = owner;
        Stream = stream;
    }

    public short Stream { get; }
    public long DeadlineTicks { get; private set; }
    public long TimeoutMilliseconds { get; private set; }
    public short Version => _core.Version;
    public bool IsWaiting => Volatile.Read(ref _state) == Waiting;

    public void Arm(long timeoutMilliseconds, CancellationToken cancellationToken)
    {
        _core.Reset();
        TimeoutMilliseconds = timeoutMilliseconds;
        DeadlineTicks = Environment.TickCount64 + timeoutMilliseconds;
        _holds = 1;
        Volatile.Write(ref _state, Waiting);
        if (cancellationToken.CanBeCanceled)
            _cancellation = cancellationToken.UnsafeRegister(static (s, ct) => ((PendingRequest)s!).Abandon(new OperationCanceledException(ct)), this);
    }

    /// <summary>Delivers a response; false when nobody waits for it any more (the caller then frees the buffer).</summary>
    public bool TryComplete(CqlResponse response)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Waiting) == Waiting)
        {
            _core.SetResult(response);
            return true;
        }
        if (Volatile.Read(ref _state) == Abandoned)
        {
            _owner.OnAbandonedSettled();
            Release();
        }
        return false;
    }

    /// <summary>Gives up waiting (timeout or cancellation) while keeping the stream id reserved.</summary>
    public void Abandon(Exception error)
    {
        Interlocked.Increment(ref _holds);
        if (Interlocked.CompareExchange(ref _state, Abandoned, Waiting) == Waiting)
        {
            _owner.OnAbandoned();
            _core.SetException(error);
        }
        else
        {
            Interlocked.Decrement(ref _holds);
        }
    }

    /// <summary>The connection died: fail the waiter; the slot is never reused.</summary>
    public void Fail(Exception error)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Waiting) == Waiting) _core.SetException(error);
    }

    public CqlResponse GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _cancellation.Dispose();
            _cancellation = default;
            Release();
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _holds) == 0)
        {
            Volatile.Write(ref _state, Idle);
            _owner.ReturnSlot(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
