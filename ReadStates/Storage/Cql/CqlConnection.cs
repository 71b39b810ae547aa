using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using K4os.Compression.LZ4;
using Microsoft.Extensions.Logging;

namespace ReadStates.Storage.Cql;

/// <summary>
/// One socket to one node (or shard), multiplexing many requests by stream id: a table of pending
/// requests, one reader loop that routes responses to them, one writer loop that sends whatever frames
/// have been queued since its last send in a single syscall (senders only copy their frame into the
/// pending buffer), and a timer that expires overdue requests. Handshake lives in <c>CqlConnection.Handshake.cs</c>.
/// </summary>
internal sealed partial class CqlConnection : IAsyncDisposable
{
    private const int ReadBufferSize = 64 * 1024;
    private const int WriteBufferSize = 64 * 1024;

    private readonly Socket _socket;
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
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private int _inFlight;
    private int _abandoned;
    private int _closed;
    private bool _compress;

    private CqlConnection(Socket socket, IPEndPoint endPoint, CqlConnectionSettings settings, ILogger logger)
    {
        _socket = socket;
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

    /// <summary>Connects (optionally from a given local port, for shard-aware routing) and runs the handshake.</summary>
    public static async Task<CqlConnection> OpenAsync(IPEndPoint endPoint, int localPort, CqlConnectionSettings settings,
        ILogger logger, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        CqlConnection? connection = null;
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
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new CqlException($"Connecting to {endPoint} timed out.", isTransient: true) { MayHaveBeenApplied = false };
                }
            }
            connection = new CqlConnection(socket, endPoint, settings, logger);
            connection._readLoop = connection.ReadLoopAsync();
            connection._writeLoop = connection.WriteLoopAsync();
            await connection.HandshakeAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex)
        {
            if (connection is not null) await connection.CloseAsync(ex).ConfigureAwait(false);
            else socket.Dispose();
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
        slot.Arm(Environment.TickCount64 + (long)timeout.TotalMilliseconds, cancellationToken);
        CqlFrameHeader.SetStream(frame.Buffer, slot.Stream);
        if (!Enqueue(frame.Span))
            slot.Fail(new CqlException($"The connection to {EndPoint} is closed.", isTransient: true, CloseReason) { MayHaveBeenApplied = false });
        return new ValueTask<CqlResponse>(slot, slot.Version);
    }

    /// <summary>Copies a frame (compressed when negotiated) into the pending write buffer and wakes the writer.</summary>
    private bool Enqueue(ReadOnlySpan<byte> frame)
    {
        byte[]? compressed = null;
        if (_compress && frame.Length > CqlFrameHeader.Size)
        {
            compressed = Compress(frame, out int compressedLength);
            frame = compressed.AsSpan(0, compressedLength);
        }
        try
        {
            bool wake;
            lock (_pendingLock)
            {
                if (!IsOpen) return false;
                if (_pendingLength + frame.Length > _pending.Length)
                {
                    var bigger = new byte[Math.Max(_pending.Length * 2, _pendingLength + frame.Length)];
                    _pending.AsSpan(0, _pendingLength).CopyTo(bigger);
                    _pending = bigger;
                }
                frame.CopyTo(_pending.AsSpan(_pendingLength));
                wake = _pendingLength == 0;
                _pendingLength += frame.Length;
            }
            if (wake) _writeSignal.Set();
            return true;
        }
        finally
        {
            if (compressed is not null) ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    /// <summary>Sends the pending buffer whenever it is non-empty, swapping it with a spare so senders never wait on the socket.</summary>
    private async Task WriteLoopAsync()
    {
        await Task.Yield();
        try
        {
            while (IsOpen)
            {
                await _writeSignal.WaitAsync().ConfigureAwait(false);
                while (IsOpen)
                {
                    byte[] sending;
                    int length;
                    lock (_pendingLock)
                    {
                        if (_pendingLength == 0) break;
                        sending = _pending;
                        length = _pendingLength;
                        _pending = _spare;
                        _pendingLength = 0;
                    }
                    var data = sending.AsMemory(0, length);
                    while (!data.IsEmpty)
                    {
                        int n = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
                        data = data[n..];
                    }
                    lock (_pendingLock) _spare = sending;
                }
            }
        }
        catch (Exception ex)
        {
            await CloseAsync(ex).ConfigureAwait(false);
        }
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

    private void ExpireOverdue()
    {
        long now = Environment.TickCount64;
        foreach (var slot in _slots)
        {
            if (slot.IsWaiting && slot.DeadlineTicks <= now)
            {
                slot.Abandon(new CqlException($"Request to {EndPoint} timed out after {_settings.RequestTimeout.TotalMilliseconds} ms.", isTransient: true));
            }
        }
    }

    /// <summary>LZ4 frame body: big-endian uncompressed length, then one LZ4 block.</summary>
    internal static byte[] Compress(ReadOnlySpan<byte> frame, out int frameLength)
    {
        var body = frame[CqlFrameHeader.Size..];
        var output = ArrayPool<byte>.Shared.Rent(CqlFrameHeader.Size + 4 + LZ4Codec.MaximumOutputSize(body.Length));
        frame[..CqlFrameHeader.Size].CopyTo(output);
        output[1] |= (byte)CqlFrameFlags.Compressed;
        BinaryPrimitives.WriteInt32BigEndian(output.AsSpan(CqlFrameHeader.Size), body.Length);
        int n = LZ4Codec.Encode(body, output.AsSpan(CqlFrameHeader.Size + 4));
        BinaryPrimitives.WriteInt32BigEndian(output.AsSpan(5), 4 + n);
        frameLength = CqlFrameHeader.Size + 4 + n;
        return output;
    }

    /// <summary>Decompresses a compressed body into a new rented buffer and returns the old one.</summary>
    internal static byte[] Decompress(byte[] body, ref int length)
    {
        if (length < 4) CqlThrow.Protocol("compressed body shorter than its length prefix.");
        int plain = BinaryPrimitives.ReadInt32BigEndian(body);
        if (plain < 0 || plain > CqlFrameHeader.MaxBodyLength) CqlThrow.TooLarge(plain);
        var output = ArrayPool<byte>.Shared.Rent(Math.Max(plain, 1));
        int n = plain == 0 ? 0 : LZ4Codec.Decode(body.AsSpan(4, length - 4), output.AsSpan(0, plain));
        if (n != plain)
        {
            ArrayPool<byte>.Shared.Return(output);
            CqlThrow.Protocol("LZ4 body does not decompress to its stated length.");
        }
        ArrayPool<byte>.Shared.Return(body);
        length = plain;
        return output;
    }

    private async Task ReadLoopAsync()
    {
        await Task.Yield();
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                while (end - start < CqlFrameHeader.Size)
                {
                    if (start > 0)
                    {
                        buffer.AsSpan(start, end - start).CopyTo(buffer);
                        end -= start;
                        start = 0;
                    }
                    int n = await _socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None).ConfigureAwait(false);
                    if (n == 0) throw new CqlException($"{EndPoint} closed the connection.", isTransient: true);
                    end += n;
                }
                var header = CqlFrameHeader.Read(buffer.AsSpan(start));
                if (header.Version != CqlFrameHeader.ResponseVersion) CqlThrow.Protocol($"unexpected frame version 0x{header.Version:X2}.");
                if ((uint)header.Length > CqlFrameHeader.MaxBodyLength) CqlThrow.TooLarge(header.Length);
                start += CqlFrameHeader.Size;

                int length = header.Length;
                var body = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                int have = Math.Min(length, end - start);
                buffer.AsSpan(start, have).CopyTo(body);
                start += have;
                if (start == end) start = end = 0;
                while (have < length)
                {
                    int n = await _socket.ReceiveAsync(body.AsMemory(have, length - have), SocketFlags.None).ConfigureAwait(false);
                    if (n == 0)
                    {
                        ArrayPool<byte>.Shared.Return(body);
                        throw new CqlException($"{EndPoint} closed the connection mid-frame.", isTransient: true);
                    }
                    have += n;
                }
                Dispatch(header, body, length);
            }
        }
        catch (Exception ex)
        {
            await CloseAsync(ex).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Dispatch(in CqlFrameHeader header, byte[] body, int length)
    {
        var response = new CqlResponse { Opcode = header.Opcode, Flags = header.Flags, Stream = header.Stream, Buffer = body, Length = length };
        try
        {
            if ((header.Flags & CqlFrameFlags.Compressed) != 0)
            {
                response.Buffer = Decompress(body, ref response.Length);
            }
            response.Offset = SkipEnvelope(response.Buffer.AsSpan(0, response.Length), header.Flags, out response.Warnings);
        }
        catch
        {
            response.Dispose();
            throw;
        }
        if (response.Warnings is { Count: > 0 } warnings)
        {
            foreach (var w in warnings) CqlLog.ServerWarning(_logger, EndPoint, w);
        }
        if (header.Stream < 0 || header.Stream >= _slots.Length)
        {
            response.Dispose(); // events (stream -1) are not subscribed to; topology is re-read on failures instead
            return;
        }
        if (!_slots[header.Stream].TryComplete(response)) response.Dispose();
    }

    /// <summary>Skips the tracing id, warnings and custom payload that flags put before the body proper.</summary>
    internal static int SkipEnvelope(ReadOnlySpan<byte> body, CqlFrameFlags flags, out IReadOnlyList<string>? warnings)
    {
        warnings = null;
        if ((flags & (CqlFrameFlags.Tracing | CqlFrameFlags.Warning | CqlFrameFlags.CustomPayload)) == 0) return 0;
        var r = new CqlReader(body);
        if ((flags & CqlFrameFlags.Tracing) != 0) r.Skip(16);
        if ((flags & CqlFrameFlags.Warning) != 0) warnings = r.ReadStringList();
        if ((flags & CqlFrameFlags.CustomPayload) != 0) r.SkipBytesMap();
        return r.Position;
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
