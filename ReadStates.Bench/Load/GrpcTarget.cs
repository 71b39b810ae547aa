using Grpc.Core;
using Grpc.Net.Client;
using ReadStates.Api.V1;
using Client = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Bench.Load;

/// <summary>ReadStates over gRPC (h2c): one HTTP/2 connection per channel, calls multiplexed on it.</summary>
internal sealed class GrpcTarget(string address) : ILoadTarget
{
    private GrpcChannel[] _channels = [];
    private Client[] _clients = [];

    public string Name => "readstates";
    public string Address => address;

    public async Task ConnectAsync(int connections, CancellationToken ct)
    {
        _channels = new GrpcChannel[connections];
        _clients = new Client[connections];
        for (int i = 0; i < connections; i++)
        {
            var handler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = false,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            };
            _channels[i] = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, MaxRetryAttempts = 0 });
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
                await client.AckAsync(new AckRequest { UserId = op.User, ChannelId = op.Channel, MessageId = op.Message }, cancellationToken: ct);
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
                var get = new GetRequest { UserId = op.User };
                get.ChannelIds.AddRange(op.Channels);
                await client.GetAsync(get, cancellationToken: ct);
                break;
        }
    }

    public static string? Classify(Exception ex) => ex is RpcException rpc ? rpc.StatusCode.ToString() : null;

    public ValueTask DisposeAsync()
    {
        foreach (var c in _channels) c.Dispose();
        return default;
    }
}
