using Grpc.Net.Client;
using ReadStates.Api.V1;
using ReadStates.Bench.Load;
using Client = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Bench.Watch;

/// <summary>The standard load over gRPC, reporting each ack's resulting version to the <see cref="DeliveryTracker"/>.</summary>
internal sealed class WatchLoadTarget(string address, DeliveryTracker tracker) : ILoadTarget
{
    private GrpcChannel[] _channels = [];
    private Client[] _clients = [];

    public string Name => "readstates";
    public string Address => address;

    public static GrpcChannel Channel(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = false,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
        },
        MaxRetryAttempts = 0,
        MaxReceiveMessageSize = 64 << 20,
    });

    public async Task ConnectAsync(int connections, CancellationToken ct)
    {
        _channels = new GrpcChannel[connections];
        _clients = new Client[connections];
        for (int i = 0; i < connections; i++)
        {
            _channels[i] = Channel(address);
            _clients[i] = new Client(_channels[i]);
            await _channels[i].ConnectAsync(ct);
        }
    }

    public async Task ExecuteAsync(int connection, Op op, CancellationToken ct)
    {
        var client = _clients[connection];
        switch (op.Kind)
        {
            case OpKind.Ack:
                long sentAt = System.Diagnostics.Stopwatch.GetTimestamp();
                var ack = await client.AckAsync(new AckRequest { UserId = op.User, ChannelId = op.Channel, MessageId = op.Message }, cancellationToken: ct);
                if (ack.Applied) tracker.Acked(op.User, ack.State.Version, sentAt);
                break;
            case OpKind.BulkAck:
                var bulk = new BulkAckRequest { UserId = op.User };
                foreach (ulong c in op.Channels) bulk.Entries.Add(new BulkAckEntry { ChannelId = c, MessageId = op.Message });
                await client.BulkAckAsync(bulk, cancellationToken: ct);
                break;
            case OpKind.Mention:
                var mention = new AddMentionsRequest { ChannelId = op.Channel, MessageId = op.Message };
                mention.UserIds.AddRange(op.Users);
                await client.AddMentionsAsync(mention, cancellationToken: ct);
                break;
            case OpKind.Get:
                await client.GetAsync(new GetRequest { UserId = op.User }, cancellationToken: ct);
                break;
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var c in _channels) c.Dispose();
        return default;
    }
}
