using System.Threading.Tasks.Sources;

namespace ReadStates.Core.Durability;

/// <summary>Something waiting for a group commit: completed once, from the log writer.</summary>
internal interface ICommitWaiter
{
    void Complete(Exception? error);
}

/// <summary>
/// A call's result held until its group is on disk: a pooled, reusable <see cref="IValueTaskSource{TResult}"/>,
/// so a durable call allocates nothing in the steady state. The writer thread never runs the caller's
/// continuation itself (that would delay the next fsync): completion queues this object to the thread
/// pool as a work item (no allocation), and the continuation runs there.
/// </summary>
internal sealed class CommitWaiter<T> : IValueTaskSource<T>, IValueTaskSource, ICommitWaiter, IThreadPoolWorkItem
{
    private const int MaxPooled = 4096;
    private static readonly Lock s_poolGate = new();
    private static readonly Stack<CommitWaiter<T>> s_pool = new();

    private ManualResetValueTaskSourceCore<T> _core;
    private T _result = default!;
    private Exception? _error;

    public static CommitWaiter<T> Rent(T result)
    {
        CommitWaiter<T>? waiter;
        lock (s_poolGate) s_pool.TryPop(out waiter);
        waiter ??= new CommitWaiter<T>();
        waiter._result = result;
        waiter._error = null;
        return waiter;
    }

    public short Token => _core.Version;

    public void Complete(Exception? error)
    {
        _error = error;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        if (_error is null) _core.SetResult(_result);
        else _core.SetException(_error);
    }

    public T GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            _result = default!;
            _error = null;
            lock (s_poolGate)
                if (s_pool.Count < MaxPooled) s_pool.Push(this);
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>A waiter for the slow paths (fan-out misses, the flush loop), where a task is allocated anyway.</summary>
internal sealed class TaskCommitWaiter : ICommitWaiter
{
    private readonly TaskCompletionSource _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Task => _tcs.Task;

    public void Complete(Exception? error)
    {
        if (error is null) _tcs.TrySetResult();
        else _tcs.TrySetException(error);
    }
}
