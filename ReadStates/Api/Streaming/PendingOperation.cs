using ReadStates.Api.V1;

namespace ReadStates.Api.Streaming;

/// <summary>
/// The per-operation state of a <c>Stream</c> call: its id, its cancellation source (timeout_ms, StreamCancel,
/// the end of the call) and, while it is pending, its task and users. Pooled by the session, so an operation
/// that completes synchronously allocates nothing here; a fired source is replaced on recycling.
/// </summary>
internal sealed class PendingOperation
{
    private CancellationTokenSource _source = new();

    public ulong Id { get; private set; }
    public uint TimeoutMs { get; private set; }
    public bool CancelledByCaller { get; private set; }
    public CancellationToken Token => _source.Token;

    // Guarded by the session's gate while the operation is pending.
    public Task? Task { get; set; }
    public bool Registered { get; set; }
    /// <summary>The request, kept for its users (the order keys) while the operation is pending.</summary>
    public StreamRequest? Request { get; set; }

    public PendingOperation Begin(ulong id, uint timeoutMs)
    {
        Id = id;
        TimeoutMs = timeoutMs;
        return this;
    }

    /// <summary>Starts the operation's own deadline, once it is known to wait (a synchronous one needs none).</summary>
    public void ArmTimeout()
    {
        if (TimeoutMs > 0) _source.CancelAfter(TimeSpan.FromMilliseconds(TimeoutMs));
    }

    // Called under the session's gate, so the operation cannot be recycled meanwhile. CancelAsync flips the
    // token at once and runs the callbacks (the engine's wait) on the thread pool, never under the gate.
    public void CancelByCaller()
    {
        CancelledByCaller = true;
        _ = _source.CancelAsync();
    }

    public void CancelQuietly() => _ = _source.CancelAsync();

    /// <summary>Clears it for the next operation; a source that fired cannot be reset and is replaced.</summary>
    public void Recycle()
    {
        Task = null;
        Request = null;
        Registered = false;
        CancelledByCaller = false;
        if (_source.TryReset()) return;
        _source.Dispose();
        _source = new CancellationTokenSource();
    }
}
