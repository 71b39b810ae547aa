using ReadStates.Core.Storage;

namespace ReadStates.Tests.Integration;

/// <summary>The real store with faults switched on and off by the test: failing loads, failing or stalled writes.</summary>
internal sealed class FaultyStore(IReadStateStore inner) : IReadStateStore
{
    private volatile TaskCompletionSource? _stall;
    private int _writesStarted;

    public volatile bool FailLoads;
    private int _failNextLoads;
    private int _loadsStarted;

    /// <summary>The next <paramref name="count"/> loads fail, then loads work again.</summary>
    public void FailNextLoads(int count) => Volatile.Write(ref _failNextLoads, count);

    public int LoadsStarted => Volatile.Read(ref _loadsStarted);
    public volatile bool FailWrites;

    public string Name => inner.Name;
    public int WritesStarted => Volatile.Read(ref _writesStarted);

    /// <summary>Writes wait (the store is slow, not failing) until <see cref="Resume"/>.</summary>
    public void Stall() => _stall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Resume() => Interlocked.Exchange(ref _stall, null)?.TrySetResult();

    public Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _loadsStarted);
        if (FailLoads || Interlocked.Decrement(ref _failNextLoads) >= 0) throw new IOException("injected load failure");
        return inner.LoadUserAsync(userId, into, cancellationToken);
    }

    public async Task WriteAsync(StateBatch batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _writesStarted);
        if (_stall is { } stall) await stall.Task.WaitAsync(cancellationToken);
        if (FailWrites) throw new IOException("injected write failure");
        await inner.WriteAsync(batch, cancellationToken);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
