using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace ReadStates.Cql;

/// <summary>A node of the cluster, as read from system.local / system.peers, with its connection pool.</summary>
internal sealed class CqlHost : IAsyncDisposable
{
    public CqlHost(IPEndPoint endPoint, string? datacenter, string? rack, Guid hostId, long[] tokens, CqlClientOptions options, ILogger logger)
    {
        EndPoint = endPoint;
        Datacenter = datacenter;
        Rack = rack;
        HostId = hostId;
        Tokens = tokens;
        Pool = new CqlHostPool(this, options, logger);
    }

    public IPEndPoint EndPoint { get; }
    public string? Datacenter { get; set; }
    public string? Rack { get; set; }
    public Guid HostId { get; set; }
    public long[] Tokens { get; set; }
    public CqlHostPool Pool { get; }

    public ValueTask DisposeAsync() => Pool.DisposeAsync();

    public override string ToString() => $"{EndPoint} ({Datacenter}/{Rack})";
}
