using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace ReadStates.Tests.Integration;

/// <summary>
/// A misbehaving HTTP/2 client on one raw connection: it opens many gRPC calls at once, ignoring the
/// server's stream limit, and never finishes their request bodies (the calls stay open on the server).
/// It reads what the server sends only to count frames, never to answer it.
/// </summary>
internal sealed class Http2Flood : IAsyncDisposable
{
    private const byte FrameHeaders = 0x1, FrameRstStream = 0x3, FrameSettings = 0x4, FrameGoAway = 0x7;
    private const byte FlagEndHeaders = 0x4, FlagAck = 0x1;

    private readonly Socket _socket;
    private readonly Task _reader;
    private int _resets, _goAways;

    private Http2Flood(Socket socket)
    {
        _socket = socket;
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>RST_STREAM frames received (streams the server refused or reset).</summary>
    public int Resets => Volatile.Read(ref _resets);
    public int GoAways => Volatile.Read(ref _goAways);
    /// <summary>Completes when the server closed the connection.</summary>
    public Task Closed => _reader;

    public static async Task<Http2Flood> OpenAsync(Uri address, string path, int streams)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(address.Host, address.Port);
        var flood = new Http2Flood(socket);
        var output = new List<byte>();
        output.AddRange("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
        AppendFrame(output, FrameSettings, 0, 0, []);
        byte[] block = HeaderBlock(address.Authority, path);
        for (int i = 0; i < streams; i++) AppendFrame(output, FrameHeaders, FlagEndHeaders, 1 + 2 * i, block);
        await socket.SendAsync(output.ToArray(), SocketFlags.None);
        return flood;
    }

    /// <summary>POST with gRPC's headers, HPACK-encoded without Huffman or dynamic table.</summary>
    private static byte[] HeaderBlock(string authority, string path)
    {
        var b = new List<byte> { 0x83, 0x86 }; // :method POST, :scheme http (static table 3 and 6)
        Literal(b, 0x04, null, path); // :path (static name 4)
        Literal(b, 0x01, null, authority); // :authority (static name 1)
        Literal(b, 0x0F, null, "application/grpc", extraIndex: 0x10); // content-type (static name 31 = 15 + 16)
        Literal(b, 0x00, "te", "trailers");
        return [.. b];
    }

    private static void Literal(List<byte> b, byte indexPrefix, string? name, string value, byte? extraIndex = null)
    {
        b.Add(indexPrefix); // literal header field without indexing
        if (extraIndex is { } extra) b.Add(extra);
        if (name is not null) String(b, name);
        String(b, value);
    }

    private static void String(List<byte> b, string s)
    {
        var bytes = Encoding.ASCII.GetBytes(s);
        if (bytes.Length > 126) throw new ArgumentException("Header too long for this tiny encoder.", nameof(s));
        b.Add((byte)bytes.Length);
        b.AddRange(bytes);
    }

    private static void AppendFrame(List<byte> output, byte type, byte flags, int stream, byte[] payload)
    {
        Span<byte> header = stackalloc byte[9];
        header[0] = (byte)(payload.Length >> 16);
        header[1] = (byte)(payload.Length >> 8);
        header[2] = (byte)payload.Length;
        header[3] = type;
        header[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(header[5..], stream);
        output.AddRange(header.ToArray());
        output.AddRange(payload);
    }

    private async Task ReadLoopAsync()
    {
        var header = new byte[9];
        var payload = new byte[1 << 16];
        try
        {
            while (true)
            {
                if (!await ReadExactlyAsync(header)) return;
                int length = (header[0] << 16) | (header[1] << 8) | header[2];
                if (length > payload.Length) payload = new byte[length];
                if (!await ReadExactlyAsync(payload.AsMemory(0, length))) return;
                switch (header[3])
                {
                    case FrameRstStream: Interlocked.Increment(ref _resets); break;
                    case FrameGoAway: Interlocked.Increment(ref _goAways); break;
                    case FrameSettings when (header[4] & FlagAck) == 0:
                        var ack = new List<byte>();
                        AppendFrame(ack, FrameSettings, FlagAck, 0, []);
                        await _socket.SendAsync(ack.ToArray(), SocketFlags.None);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task<bool> ReadExactlyAsync(Memory<byte> buffer)
    {
        int have = 0;
        while (have < buffer.Length)
        {
            int n = await _socket.ReceiveAsync(buffer[have..], SocketFlags.None);
            if (n == 0) return false;
            have += n;
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        await _reader.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }
}
