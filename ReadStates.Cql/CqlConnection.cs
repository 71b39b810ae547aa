using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace ReadStates.Cql;

/// <summary>
/// One socket to one node (or shard), multiplexing many requests by stream id: a table of pending
/// requests, one reader loop that routes responses to them, one writer loop that sends whatever frames
/// have been queued since its last send in a single syscall (senders only copy their frame into the
/// pending buffer), and a timer that expires overdue requests. Handshake in <c>CqlConnection.Handshake.cs</c>, socket loops in <c>CqlConnection.Io.cs</c>.
/// </summary>
internal sealed partial class CqlConnection : IAsyncDisposable
{
    private const int ReadBufferSize = 64 * 1024;
    private const int WriteBufferSize = 64 * 1024;

    private readonly Socket _socket;
    // Null on plain TCP, where the loops use the socket directly; an SslStream on TLS.
    private readonly Stream? _tls;
    private readonly CqlConnectionSettings _settings;
    private readonly ILogger _logger;
    private readonly PendingRequest[] _slots;
    private readonly Stack<PendingRequest> _free;
    private readonly Timer _timer;
    private readonly AsyncSignal _writeSignal = new();
    private readonly object _pendingLock = new();
    private byte[] _pending = new byte[WriteBufferSize];
    private byte[] _spare = new byte[WriteBufferSize];
    private int _pendingLength;
    private long _lastReceiveTicks = Environment.TickCount64;
    private long _lastSendTicks = Environment.TickCount64;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private int _inFlight;
    private int _abandoned;
    private int _closed;
    private bool _compress;

    private CqlConnection(Socket socket, Stream? tls, IPEndPoint endPoint, CqlConnectionSettings settings, ILogger logger)
    {
        _socket = socket;
        _tls = tls;
        EndPoint = endPoint;
        _settings = settings;
        _logger = logger;
        int max = Math.Clamp(settings.MaxRequestsPerConnection, 1, 32768);
        _slots = new PendingRequest[max];
        _free = new Stack<PendingRequest>(max);
        for (int i = max - 1; i >= 0; i--)
        {
            _slots[i] = new PendingRequest(this, (short)i);
            _free.Push(_slots[i]);
        }
        var period = TimeSpan.FromMilliseconds(Math.Clamp(settings.RequestTimeout.TotalMilliseconds / 4, 5, 100));
        _timer = new Timer(static s => ((CqlConnection)s!).ExpireOverdue(), this, period, period);
    }

    public IPEndPoint EndPoint { get; }
    public CqlServerInfo ServerInfo { get; private set; } = new(new Dictionary<string, List<string>>());
    public bool IsOpen => Volatile.Read(ref _closed) == 0;
    public int InFlight => Volatile.Read(ref _inFlight);
    public int LocalPort => (_socket.LocalEndPoint as IPEndPoint)?.Port ?? 0;
    /// <summary>Why the connection closed, once it has.</summary>
    public Exception? CloseReason { get; private set; }

    /// <summary>Raised once, from whichever thread noticed, when the connection dies.</summary>
    public event Action<CqlConnection>? Closed;

    /// <summary>Connects (optionally from a given local port, for shard-aware routing), negotiates TLS when configured, and runs the handshake.</summary>
    public static async Task<CqlConnection> OpenAsync(IPEndPoint endPoint, int localPort, CqlConnectionSettings settings,
        ILogger logger, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        CqlConnection? connection = null;
        Stream? tls = null;
        try
        {
            if (localPort > 0)
            {
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                var any = endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
                socket.Bind(new IPEndPoint(any, localPort));
            }
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                cts.CancelAfter(settings.ConnectTimeout);
                try
                {
                    await socket.ConnectAsync(endPoint, cts.Token).ConfigureAwait(false);
                    if (settings.Tls is { } tlsSettings) tls = await NegotiateTlsAsync(socket, endPoint, tlsSettings, cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new CqlException($"Connecting to {endPoint} timed out.", isTransient: true) { MayHaveBeenApplied = false };
                }
            }
            connection = new CqlConnection(socket, tls, endPoint, settings, logger);
            connection._readLoop = connection.ReadLoopAsync();
            connection._writeLoop = connection.WriteLoopAsync();
            await connection.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex)
        {
            if (connection is not null) await connection.CloseAsync(ex).ConfigureAwait(false);
            else
            {
                if (tls is not null) await tls.DisposeAsync().ConfigureAwait(false);
                socket.Dispose();
            }
            if (ex is SocketException se)
                throw new CqlException($"Cannot connect to {endPoint}: {se.SocketErrorCode}.", isTransient: true, se) { MayHaveBeenApplied = false };
            throw;
        }
    }

    /// <summary>
    /// Sends an encoded request frame (its stream id is patched in) and waits for the response.
    /// The frame is copied into the connection's write buffer before this returns, so the caller keeps
    /// ownership of <paramref name="frame"/> and may resend it elsewhere.
    /// </summary>
    public ValueTask<CqlResponse> SendAsync(PooledFrame frame, TimeSpan timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var slot = RentSlot();
        slot.Arm((long)timeout.TotalMilliseconds, cancellationToken);
        CqlFrameHeader.SetStream(frame.Buffer, slot.Stream);
        if (!Enqueue(frame.Span))
            slot.Fail(new CqlException($"The connection to {EndPoint} is closed.", isTransient: true, CloseReason) { MayHaveBeenApplied = false });
        return new ValueTask<CqlResponse>(slot, slot.Version);
    }

    private PendingRequest RentSlot()
    {
        PendingRequest? slot = null;
        if (IsOpen)
        {
            lock (_free)
            {
                if (_free.Count > 0) slot = _free.Pop();
            }
        }
        if (slot is null)
        {
            throw new CqlException(IsOpen ? $"All stream ids of the connection to {EndPoint} are busy." : $"The connection to {EndPoint} is closed.",
                isTransient: true, CloseReason) { MayHaveBeenApplied = false };
        }
        Interlocked.Increment(ref _inFlight);
        return slot;
    }

    internal void ReturnSlot(PendingRequest slot)
    {
        Interlocked.Decrement(ref _inFlight);
        lock (_free) _free.Push(slot);
    }

    internal void OnAbandoned()
    {
        if (Interlocked.Increment(ref _abandoned) > _settings.MaxAbandonedRequests)
            _ = CloseAsync(new CqlException($"Too many unanswered requests on {EndPoint}.", isTransient: true));
    }

    internal void OnAbandonedSettled() => Interlocked.Decrement(ref _abandoned);

    /// <summary>
    /// Timer tick: fails overdue requests; closes the connection when one timed out and nothing at all
    /// arrived during its whole timeout (a dead peer, not a slow query); sends a heartbeat when idle.
    /// </summary>
    private void ExpireOverdue()
    {
        long now = Environment.TickCount64;
        long silent = now - Volatile.Read(ref _lastReceiveTicks);
        bool dead = false;
        foreach (var slot in _slots)
        {
            if (slot.IsWaiting && slot.DeadlineTicks <= now)
            {
                dead |= silent >= slot.TimeoutMilliseconds;
                slot.Abandon(new CqlException($"Request to {EndPoint} timed out after {slot.TimeoutMilliseconds} ms.", isTransient: true));
            }
        }
        if (dead)
        {
            _ = CloseAsync(new CqlException($"{EndPoint} sent nothing for {silent} ms while requests timed out.", isTransient: true));
            return;
        }
        if (_settings.HeartbeatInterval > TimeSpan.Zero && IsOpen && Volatile.Read(ref _inFlight) == 0
            && silent >= (long)_settings.HeartbeatInterval.TotalMilliseconds
            && now - Volatile.Read(ref _lastSendTicks) >= (long)_settings.HeartbeatInterval.TotalMilliseconds)
        {
            _ = HeartbeatAsync();
        }
    }

    private async Task HeartbeatAsync()
    {
        try
        {
            using var options = CqlRequests.Options();
            using var reply = await SendAsync(options, _settings.RequestTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (CqlException)
        {
            // A dead peer is handled by the timeout rule above; a closed connection needs nothing more.
        }
    }

    private async ValueTask CloseAsync(Exception reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        CloseReason = reason;
        CqlLog.ConnectionClosed(_logger, EndPoint, reason.Message);
        await _timer.DisposeAsync().ConfigureAwait(false);
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        if (_tls is not null)
        {
            try
            {
                await _tls.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException) { }
        }
        _socket.Dispose();
        var error = reason as CqlException is { IsTransient: true } ? reason
            : new CqlException($"Connection to {EndPoint} lost: {reason.Message}", isTransient: reason is not CqlException, reason);
        foreach (var slot in _slots) slot.Fail(error);
        _writeSignal.Set();
        Closed?.Invoke(this);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync(new CqlException("Connection disposed.", isTransient: true)).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_readLoop, _writeLoop).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CqlException or SocketException or ObjectDisposedException) { }
    }
}
