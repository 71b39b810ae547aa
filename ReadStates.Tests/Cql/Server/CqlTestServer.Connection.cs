using System.Buffers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ReadStates.Cql;

namespace ReadStates.Tests.Cql.Server;

internal sealed partial class CqlTestServer
{
    private delegate void BodyWriter(ref CqlWriter writer);

    private const int ScratchSize = 1 << 20;

    /// <summary>One client connection: reads frames, answers each request on its own task (so a slow reply does not block others).</summary>
    private sealed class ServerConnection(CqlTestServer server, Socket socket, int shard)
    {
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        // Plain: the socket itself; TLS mode: an SslStream over it, set up first thing in RunAsync.
        private Stream _stream = new NetworkStream(socket, ownsSocket: false);
        private bool _compress;
        private bool _authenticated;
        private string? _keyspace;

        public int Shard { get; } = shard;

        public Stream Stream { get => _stream; set => _stream = value; }

        public X509Certificate? ClientCertificate { get; set; }

        public void Abort()
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
            socket.Dispose();
        }

        public async Task RunAsync(CancellationToken ct)
        {
            var header = new byte[CqlFrameHeader.Size];
            try
            {
                if (server._options.Certificate is not null && !await server.NegotiateTlsAsync(this, ct).ConfigureAwait(false)) return;
                while (!ct.IsCancellationRequested)
                {
                    if (!await ReadExactlyAsync(header, ct).ConfigureAwait(false)) return;
                    var h = CqlFrameHeader.Read(header);
                    if (h.Version != CqlFrameHeader.RequestVersion || (uint)h.Length > CqlFrameHeader.MaxBodyLength)
                    {
                        await WriteAsync(Error(h.Stream, CqlErrorCode.ProtocolError, $"Invalid or unsupported protocol version ({h.Version & 0x7f})")).ConfigureAwait(false);
                        return;
                    }
                    int length = h.Length;
                    var body = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                    if (!await ReadExactlyAsync(body.AsMemory(0, length), ct).ConfigureAwait(false)) return;
                    if ((h.Flags & CqlFrameFlags.Compressed) != 0)
                    {
                        Interlocked.Increment(ref server._compressedRequests);
                        body = CqlConnection.Decompress(body, ref length);
                    }
                    _ = HandleAsync(h, body, length);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException or IOException) { }
            finally
            {
                Abort();
                await _stream.DisposeAsync().ConfigureAwait(false);
            }
        }

        private async ValueTask<bool> ReadExactlyAsync(Memory<byte> buffer, CancellationToken ct)
        {
            int have = 0;
            while (have < buffer.Length)
            {
                int n = await _stream.ReadAsync(buffer[have..], ct).ConfigureAwait(false);
                if (n == 0) return false;
                have += n;
            }
            return true;
        }

        private async Task HandleAsync(CqlFrameHeader h, byte[] body, int length)
        {
            PooledFrame reply;
            bool delayable = h.Opcode is CqlOpcode.Query or CqlOpcode.Execute or CqlOpcode.Batch;
            try
            {
                if (delayable && server.ShouldFail())
                    throw new TestServerException(server._failureCode, "injected failure");
                reply = Handle(h, body.AsSpan(0, length));
            }
            catch (TestServerException ex)
            {
                reply = Error(h.Stream, ex.Code, ex.Message, ex.UnpreparedId);
            }
            catch (CqlException ex)
            {
                reply = Error(h.Stream, CqlErrorCode.ProtocolError, ex.Message);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(body);
            }
            try
            {
                if (delayable && TakeOne(ref server._delayedReplies)) await Task.Delay(server.ReplyDelay).ConfigureAwait(false);
                if (delayable) await server.RepliesAllowed.ConfigureAwait(false);
                await WriteAsync(reply).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
            {
                Abort();
            }
        }

        private async Task WriteAsync(PooledFrame frame)
        {
            using (frame)
            {
                byte[]? compressed = null;
                var data = frame.Buffer.AsMemory(0, frame.Length);
                if (_compress && frame.Opcode != CqlOpcode.Ready && frame.Opcode != CqlOpcode.Authenticate)
                {
                    compressed = CqlConnection.Compress(frame.Span, out int n);
                    data = compressed.AsMemory(0, n);
                }
                await _writeLock.WaitAsync().ConfigureAwait(false);
                try
                {
                    await _stream.WriteAsync(data).ConfigureAwait(false);
                }
                finally
                {
                    _writeLock.Release();
                    if (compressed is not null) ArrayPool<byte>.Shared.Return(compressed);
                }
            }
        }

        private PooledFrame Handle(in CqlFrameHeader h, ReadOnlySpan<byte> body)
        {
            short stream = h.Stream;
            var r = new CqlReader(body);
            switch (h.Opcode)
            {
                case CqlOpcode.Options:
                    Interlocked.Increment(ref server._options_count);
                    return Respond(stream, CqlOpcode.Supported, (ref CqlWriter w) => WriteMultimap(ref w, server.SupportedFor(Shard)));
                case CqlOpcode.Startup:
                {
                    var options = r.ReadStringMap();
                    server.Startups.Enqueue(options);
                    if (options.GetValueOrDefault("COMPRESSION") is { } c && c != "lz4")
                        throw new TestServerException(CqlErrorCode.ProtocolError, $"Unknown compression algorithm: {c}");
                    var reply = server._options.Username is not null
                        ? Respond(stream, CqlOpcode.Authenticate, (ref CqlWriter w) => w.WriteString("org.apache.cassandra.auth.PasswordAuthenticator"))
                        : Respond(stream, CqlOpcode.Ready, static (ref CqlWriter _) => { });
                    _authenticated = server._options.Username is null;
                    _compress = options.ContainsKey("COMPRESSION") && server._options.OfferLz4;
                    return reply;
                }
                case CqlOpcode.AuthResponse:
                {
                    r.ReadBytes(out var token);
                    string expected = "\0" + server._options.Username + "\0" + server._options.Password;
                    if (server._options.Username is null || Encoding.UTF8.GetString(token) != expected)
                        throw new TestServerException(CqlErrorCode.AuthenticationError, "Provided username and/or password are incorrect");
                    _authenticated = true;
                    return Respond(stream, CqlOpcode.AuthSuccess, static (ref CqlWriter w) => w.WriteNullBytes());
                }
                case CqlOpcode.Register:
                    return Respond(stream, CqlOpcode.Ready, static (ref CqlWriter _) => { });
            }

            if (!_authenticated) throw new TestServerException(CqlErrorCode.ProtocolError, "Unexpected message, authentication required");
            using var values = new CqlValues();
            switch (h.Opcode)
            {
                case CqlOpcode.Query:
                {
                    string query = r.ReadLongString();
                    var p = QueryParameters.Read(ref r, values);
                    var statement = TestStatements.Parse(query, _keyspace, server.Tables);
                    server.Requests.Enqueue((h.Opcode, Shard, query));
                    return server.Execute(this, stream, statement, values, p);
                }
                case CqlOpcode.Prepare:
                {
                    string query = r.ReadLongString();
                    var statement = TestStatements.Parse(query, _keyspace, server.Tables);
                    Interlocked.Increment(ref server._prepares);
                    byte[] id = MD5.HashData(Encoding.UTF8.GetBytes($"{Volatile.Read(ref server._epoch)}|{_keyspace}|{query}"));
                    server._prepared[Convert.ToHexString(id)] = statement;
                    return server.PreparedResult(stream, id, statement);
                }
                case CqlOpcode.Execute:
                {
                    byte[] id = r.ReadShortBytes().ToArray();
                    var p = QueryParameters.Read(ref r, values);
                    var statement = server.Lookup(id);
                    server.Requests.Enqueue((h.Opcode, Shard, statement.Query));
                    return server.Execute(this, stream, statement, values, p);
                }
                case CqlOpcode.Batch:
                    return server.ExecuteBatch(this, stream, ref r);
                default:
                    throw new TestServerException(CqlErrorCode.ProtocolError, $"Unexpected opcode {h.Opcode}");
            }
        }

        public void Use(string keyspace) => _keyspace = keyspace;
    }

    private ParsedStatement Lookup(byte[] id)
        => _prepared.TryGetValue(Convert.ToHexString(id), out var s) ? s
            : throw new TestServerException(CqlErrorCode.Unprepared, $"Prepared query with ID {Convert.ToHexString(id).ToLowerInvariant()} not found") { UnpreparedId = id };

    private Dictionary<string, List<string>> SupportedFor(int shard)
    {
        var map = new Dictionary<string, List<string>>
        {
            ["CQL_VERSION"] = ["3.0.0", "3.3.1"],
            ["PROTOCOL_VERSIONS"] = ["3/v3", "4/v4"],
            ["COMPRESSION"] = _options.OfferLz4 ? ["lz4"] : [],
        };
        if (_options.ShardCount > 0)
        {
            map["SCYLLA_SHARD"] = [shard.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            map["SCYLLA_NR_SHARDS"] = [_options.ShardCount.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            map["SCYLLA_PARTITIONER"] = ["org.apache.cassandra.dht.Murmur3Partitioner"];
            map["SCYLLA_SHARDING_ALGORITHM"] = ["biased-token-round-robin"];
            map["SCYLLA_SHARDING_IGNORE_MSB"] = [_options.ShardingIgnoreMsb.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            if (ShardAwarePort > 0 && _options.Certificate is null) map["SCYLLA_SHARD_AWARE_PORT"] = [ShardAwarePort.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            if (ShardAwarePort > 0 && _options.Certificate is not null)
            {
                // As ScyllaDB with client encryption: the plain shard-aware port (here one nobody listens on)
                // and the TLS one; a TLS client must pick the latter.
                map["SCYLLA_SHARD_AWARE_PORT"] = [ClosedPort.ToString(System.Globalization.CultureInfo.InvariantCulture)];
                map["SCYLLA_SHARD_AWARE_PORT_SSL"] = [ShardAwarePort.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            }
        }
        return map;
    }

    private static void WriteMultimap(ref CqlWriter w, Dictionary<string, List<string>> map)
    {
        w.WriteUShort((ushort)map.Count);
        foreach (var (k, v) in map)
        {
            w.WriteString(k);
            w.WriteStringList(v);
        }
    }

    /// <summary>Builds a response frame: the body goes to a scratch buffer first, then into an exactly sized frame.</summary>
    private static PooledFrame Respond(short stream, CqlOpcode opcode, BodyWriter write)
    {
        var scratch = ArrayPool<byte>.Shared.Rent(ScratchSize);
        try
        {
            var w = new CqlWriter(scratch);
            write(ref w);
            var frame = PooledFrame.Rent(opcode, w.Position, out var body, version: CqlFrameHeader.ResponseVersion, stream: stream);
            body.WriteRaw(scratch.AsSpan(0, w.Position));
            return frame;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private static PooledFrame Error(short stream, CqlErrorCode code, string message, byte[]? unpreparedId = null)
        => Respond(stream, CqlOpcode.Error, (ref CqlWriter w) =>
        {
            w.WriteInt((int)code);
            w.WriteString(message);
            switch (code)
            {
                case CqlErrorCode.Unprepared:
                    w.WriteShortBytes(unpreparedId ?? []);
                    break;
                case CqlErrorCode.Unavailable:
                    w.WriteUShort((ushort)CqlConsistency.LocalQuorum);
                    w.WriteInt(2);
                    w.WriteInt(1);
                    break;
                case CqlErrorCode.WriteTimeout:
                    w.WriteUShort((ushort)CqlConsistency.LocalQuorum);
                    w.WriteInt(1);
                    w.WriteInt(2);
                    w.WriteString("UNLOGGED_BATCH");
                    break;
                case CqlErrorCode.ReadTimeout:
                    w.WriteUShort((ushort)CqlConsistency.LocalQuorum);
                    w.WriteInt(1);
                    w.WriteInt(2);
                    w.WriteByte(0);
                    break;
                case CqlErrorCode.AlreadyExists:
                    w.WriteString("ks");
                    w.WriteString("");
                    break;
            }
        });
}
