using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using ReadStates.Cql;

namespace ReadStates.Bench.Micro;

/// <summary>
/// The CQL client's hot paths, per operation: encoding one user's write (20 prepared INSERTs and the meta
/// row as an unlogged batch frame), the Murmur3 token of a bigint key, decoding a 100-row page, and a full
/// request round trip on a multiplexed loopback connection (against a responder that answers RESULT Void
/// from a pre-built frame, so the figure is the client's own cost).
/// </summary>
[MemoryDiagnoser]
public class CqlCodec
{
    private const int Ops = 1024;
    private const int RoundTrips = 256;

    private readonly CqlBatch _batch = new();
    private readonly CqlValues _values = new();
    private readonly byte[] _blob = new byte[24];
    private PreparedStatement _insert = null!;
    private byte[] _rowsBody = null!;
    private int _rowsLength;
    private Socket? _listener;
    private Socket? _peer;
    private CqlConnection? _connection;
    private CancellationTokenSource? _stop;
    private long _key;

    [GlobalSetup]
    public void Setup()
    {
        _insert = new PreparedStatement("INSERT …", new PreparedResult
        {
            Id = new byte[16],
            Variables = [],
            PartitionKeyIndexes = [0],
            ResultColumns = [],
        });
        BuildRowsPage();
        StartLoopback();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop?.Cancel();
        _connection?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _peer?.Dispose();
        _listener?.Dispose();
        _batch.Dispose();
        _values.Dispose();
    }

    private void FillUserBatch(long user)
    {
        _batch.Clear();
        for (int i = 0; i < 20; i++)
        {
            _values.Clear();
            _values.AddBigint(user);
            _values.AddBigint(1000 + i);
            _values.AddBigint(123456789 + i);
            _values.AddInt(i & 3);
            _values.AddBlob(_blob);
            _values.AddTinyint(0);
            _values.AddBigint(77);
            _values.AddInt(1);
            _values.AddTimestamp(1_700_000_000_000);
            _values.AddInt(i);
            _values.AddBigint(42);
            _batch.Add(_insert, _values);
        }
        _values.Clear();
        _values.AddBigint(user);
        _values.AddBigint(0);
        for (int i = 0; i < 8; i++) _values.AddUnset();
        _values.AddBigint(42);
        _batch.Add(_insert, _values);
    }

    [Benchmark]
    public int EncodeUserBatch()
    {
        FillUserBatch(++_key);
        Murmur3.TryTokenOf(_batch.Values, 0, _insert.PartitionKeyIndexes, out _);
        using var frame = CqlRequests.Batch(_batch, CqlConsistency.LocalQuorum, null, 1_700_000_000_000_000 + _key);
        return frame.Length;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public long Murmur3Token()
    {
        long sum = 0;
        for (int i = 0; i < Ops; i++) sum += Murmur3.Token(_key + i);
        _key += Ops;
        return sum;
    }

    [Benchmark]
    public long DecodeRowsPage()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(_rowsLength);
        _rowsBody.AsSpan(0, _rowsLength).CopyTo(buffer);
        var response = new CqlResponse { Opcode = CqlOpcode.Result, Buffer = buffer, Length = _rowsLength };
        using var rows = CqlRowSet.FromResponse(ref response)!;
        long sum = 0;
        while (rows.MoveNext()) sum += rows.GetInt64(0) + rows.GetInt64(1) + rows.GetInt32(2) + rows.GetBytes(3).Length;
        return sum;
    }

    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public async Task LoopbackRoundTrip()
    {
        for (int i = 0; i < RoundTrips; i++)
        {
            FillUserBatch(++_key);
            using var frame = CqlRequests.Batch(_batch, CqlConsistency.LocalQuorum, null, 1_700_000_000_000_000 + _key);
            using var response = await _connection!.SendAsync(frame, TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
        }
    }

    private void BuildRowsPage()
    {
        _rowsBody = new byte[64 * 1024];
        var w = new CqlWriter(_rowsBody);
        w.WriteInt(2);
        w.WriteInt(1);
        w.WriteInt(4);
        w.WriteString("readstates");
        w.WriteString("read_states");
        w.WriteString("channel_id"); CqlType.Bigint.Write(ref w);
        w.WriteString("last_message_id"); CqlType.Bigint.Write(ref w);
        w.WriteString("mention_count"); CqlType.Int.Write(ref w);
        w.WriteString("mention_ids"); CqlType.Blob.Write(ref w);
        w.WriteInt(100);
        Span<byte> cell = stackalloc byte[8];
        for (int r = 0; r < 100; r++)
        {
            BinaryPrimitives.WriteInt64BigEndian(cell, r);
            w.WriteBytes(cell);
            BinaryPrimitives.WriteInt64BigEndian(cell, r * 1000);
            w.WriteBytes(cell);
            w.WriteBytes(cell[..4]);
            w.WriteBytes(_blob);
        }
        _rowsLength = w.Position;
    }

    private void StartLoopback()
    {
        _stop = new CancellationTokenSource();
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1);
        var stop = _stop.Token;
        _ = Task.Run(async () =>
        {
            _peer = await _listener.AcceptAsync(stop);
            await RespondAsync(_peer, stop);
        });
        _connection = CqlConnection.OpenAsync((IPEndPoint)_listener.LocalEndPoint!, 0, new CqlConnectionSettings(), NullLogger.Instance, stop)
            .GetAwaiter().GetResult();
    }

    /// <summary>SUPPORTED (empty), READY, and RESULT Void for everything else; allocation-free in steady state.</summary>
    private static async Task RespondAsync(Socket socket, CancellationToken ct)
    {
        byte[] supported = [0x84, 0, 0, 0, (byte)CqlOpcode.Supported, 0, 0, 0, 2, 0, 0];
        byte[] ready = [0x84, 0, 0, 0, (byte)CqlOpcode.Ready, 0, 0, 0, 0];
        byte[] voidResult = [0x84, 0, 0, 0, (byte)CqlOpcode.Result, 0, 0, 0, 4, 0, 0, 0, 1];
        var buffer = new byte[1 << 16];
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (!await ReadAsync(socket, buffer.AsMemory(0, 9), ct)) return;
                int length = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(5));
                if (length > buffer.Length - 9) return;
                if (!await ReadAsync(socket, buffer.AsMemory(9, length), ct)) return;
                var reply = (CqlOpcode)buffer[4] switch
                {
                    CqlOpcode.Options => supported,
                    CqlOpcode.Startup => ready,
                    _ => voidResult,
                };
                reply[2] = buffer[2];
                reply[3] = buffer[3];
                await socket.SendAsync(reply, SocketFlags.None, ct);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> ReadAsync(Socket socket, Memory<byte> buffer, CancellationToken ct)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
            if (n == 0) return false;
            buffer = buffer[n..];
        }
        return true;
    }
}
