using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using K4os.Compression.LZ4;

namespace ReadStates.Cql;

/// <summary>The socket side of a connection: the writer loop and its pending buffer, the reader loop, LZ4.</summary>
internal sealed partial class CqlConnection
{
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
                _lastSendTicks = Environment.TickCount64;
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
                        if (_tls is not null)
                        {
                            await _tls.WriteAsync(data).ConfigureAwait(false);
                            break;
                        }
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
                    int n = await ReceiveAsync(buffer.AsMemory(end)).ConfigureAwait(false);
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
                    int n = await ReceiveAsync(body.AsMemory(have, length - have)).ConfigureAwait(false);
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

    private ValueTask<int> ReceiveAsync(Memory<byte> buffer) =>
        _tls is null ? _socket.ReceiveAsync(buffer, SocketFlags.None) : _tls.ReadAsync(buffer);

    /// <summary>The TLS handshake on a connected socket; a certificate the settings reject is not transient.</summary>
    private static async Task<Stream> NegotiateTlsAsync(Socket socket, System.Net.IPEndPoint endPoint, CqlTlsSettings settings, CancellationToken cancellationToken)
    {
        var ssl = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(settings.ToSslOptions(endPoint.Address.ToString()), cancellationToken).ConfigureAwait(false);
            return ssl;
        }
        catch (System.Security.Authentication.AuthenticationException ex)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new CqlException($"TLS with {endPoint} failed: {ex.Message}", isTransient: false, ex) { MayHaveBeenApplied = false };
        }
        catch (IOException ex)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new CqlException($"TLS with {endPoint} failed: {ex.Message}", isTransient: true, ex) { MayHaveBeenApplied = false };
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void Dispatch(in CqlFrameHeader header, byte[] body, int length)
    {
        Volatile.Write(ref _lastReceiveTicks, Environment.TickCount64);
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
}
