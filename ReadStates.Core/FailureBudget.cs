namespace ReadStates.Core;

/// <summary>
/// How long the final flush may keep retrying: its token fires once writes have failed, with no success
/// in between, for the whole limit. A store that keeps accepting writes never runs it down.
/// </summary>
internal sealed class FailureBudget(TimeSpan limit, TimeProvider time) : IDisposable
{
    private readonly CancellationTokenSource _cts = new(Timeout.InfiniteTimeSpan, time);
    private bool _armed;

    public CancellationToken Token => _cts.Token;

    public void Failed()
    {
        if (_armed) return;
        _armed = true;
        if (limit == TimeSpan.Zero) _cts.Cancel();
        else _cts.CancelAfter(limit);
    }

    public void Succeeded()
    {
        if (!_armed || _cts.IsCancellationRequested) return;
        _armed = false;
        _cts.CancelAfter(Timeout.InfiniteTimeSpan);
    }

    public void Dispose() => _cts.Dispose();
}
