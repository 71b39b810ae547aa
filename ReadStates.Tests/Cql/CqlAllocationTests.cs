using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using ReadStates.Cql;

namespace ReadStates.Tests.Cql;

/// <summary>
/// The request path end to end — encode a batch into a pooled frame, send it on a multiplexed
/// connection, await the reply — allocates nothing per request in steady state. Measured process-wide
/// against a minimal responder that itself allocates nothing, so the test runs alone.
/// </summary>
[Collection(CqlSerialCollection.Name)]
public class CqlAllocationTests
{
    /// <summary>Answers SUPPORTED (empty), READY, and RESULT Void to everything else, from pre-built frames.</summary>
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

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
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

    private static async Task WorkerAsync(CqlConnection connection, PreparedStatement statement, int requests)
    {
        using var batch = new CqlBatch();
        using var values = new CqlValues();
        for (int i = 0; i < requests; i++)
        {
            batch.Clear();
            for (int s = 0; s < 4; s++)
            {
                values.Clear();
                values.AddBigint(42);
                values.AddBigint(s);
                values.AddInt(i);
                values.AddUnset();
                batch.Add(statement, values);
            }
            using var frame = CqlRequests.Batch(batch, CqlConsistency.LocalQuorum, null, 1_700_000_000_000_000 + i);
            using var response = await connection.SendAsync(frame, TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
            if (response.Opcode != CqlOpcode.Result) throw new InvalidOperationException(response.Opcode.ToString());
        }
    }

    [Fact]
    public async Task SendingBatches_OnAMultiplexedConnection_AllocatesNothingPerRequest()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Socket? serverSocket = null;
        var serve = Task.Run(async () =>
        {
            serverSocket = await listener.AcceptAsync(stop.Token);
            await RespondAsync(serverSocket, stop.Token);
        });
        var settings = new CqlConnectionSettings { RequestTimeout = TimeSpan.FromSeconds(10) };
        await using var connection = await CqlConnection.OpenAsync((IPEndPoint)listener.LocalEndPoint!, 0, settings, NullLogger.Instance, stop.Token)
            .WaitAsync(TimeSpan.FromSeconds(10));
        var statement = CqlCodecTests.FakeStatement(new byte[16], pk: [0]);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => WorkerAsync(connection, statement, 500)));
        // Process-wide counts also see whatever earlier tests left running in the background (a
        // server draining, a timer firing), so the best of three rounds is what the client costs.
        const int Workers = 8, PerWorker = 10_000;
        var rounds = new List<long>();
        for (int round = 0; round < 3; round++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => WorkerAsync(connection, statement, PerWorker)));
            rounds.Add(GC.GetTotalAllocatedBytes(precise: true) - before);
            if (rounds[^1] < Workers * PerWorker * 4) break;
        }
        Assert.True(rounds.Min() < Workers * PerWorker * 4,
            $"bytes allocated per round of {Workers * PerWorker} requests: {string.Join(", ", rounds)}");

        await stop.CancelAsync();
        serverSocket?.Dispose();
        await serve.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
