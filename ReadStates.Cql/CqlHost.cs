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

/// <summary>
/// The connections to one host. On ScyllaDB one connection per shard, each opened from a source port
/// that makes the shard-aware port assign that shard (falling back to the regular port when the
/// shard-aware one is unreachable); elsewhere a few interchangeable connections. Connections are opened
/// on demand; a failed connect marks the host down for an exponentially growing delay.
/// </summary>
internal sealed class CqlHostPool : IAsyncDisposable
{
    private const int EphemeralLow = 49152, EphemeralHigh = 65535;

    private readonly CqlHost _host;
    private readonly CqlClientOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private CqlConnection?[] _connections;
    private int _roundRobin;
    private int _failures;
    private long _downUntil;
    private bool _shardAwarePortUnreachable;
    private int _regularAttempts;
    private bool _disposed;

    public CqlHostPool(CqlHost host, CqlClientOptions options, ILogger logger)
    {
        _host = host;
        _options = options;
        _logger = logger;
        _connections = new CqlConnection?[Math.Max(1, options.ConnectionsPerHost)];
    }

    /// <summary>Sharding facts learned from the first connection; null until then.</summary>
    public CqlServerInfo? ServerInfo { get; private set; }
    public int ShardCount => ServerInfo is { IsScylla: true } info ? info.ShardCount : 0;
    public bool IsDown => Environment.TickCount64 < Volatile.Read(ref _downUntil);
    /// <summary>Milliseconds until the next reconnect attempt is allowed (0 when the host is not down).</summary>
    public long RetryAfterMilliseconds => Math.Max(0, Volatile.Read(ref _downUntil) - Environment.TickCount64);
    public int OpenConnections
    {
        get
        {
            int n = 0;
            foreach (var c in Volatile.Read(ref _connections)) if (c is { IsOpen: true }) n++;
            return n;
        }
    }

    /// <summary>The shard owning a token on this host, or -1 when the host is not sharded (or not yet known).</summary>
    public int ShardOf(long token)
        => ServerInfo is { IsScylla: true } info ? ScyllaSharding.ShardOf(token, info.ShardCount, info.ShardingIgnoreMsb) : -1;

    /// <summary>A connection for <paramref name="shard"/> (-1 = any); synchronous when one is open.</summary>
    public ValueTask<CqlConnection> GetAsync(int shard, CancellationToken cancellationToken)
    {
        var connections = Volatile.Read(ref _connections);
        if (ServerInfo is { IsScylla: true } && shard >= 0 && shard < connections.Length)
        {
            if (connections[shard] is { IsOpen: true } exact) return new(exact);
        }
        else
        {
            CqlConnection? best = null;
            int open = 0;
            int start = (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)connections.Length);
            for (int i = 0; i < connections.Length; i++)
            {
                var c = connections[(start + i) % connections.Length];
                if (c is not { IsOpen: true }) continue;
                open++;
                if (best is null || c.InFlight < best.InFlight) best = c;
            }
            if (best is not null && (best.InFlight == 0 || open == connections.Length || ServerInfo is { IsScylla: true })) return new(best);
        }
        return ConnectAsync(shard, cancellationToken);
    }

    private async ValueTask<CqlConnection> ConnectAsync(int shard, CancellationToken cancellationToken)
    {
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var connections = _connections;
            // Another caller may have connected while we waited.
            if (ServerInfo is { IsScylla: true } && shard >= 0 && shard < connections.Length && connections[shard] is { IsOpen: true } done)
                return done;
            if (IsDown)
            {
                var fallback = AnyOpen();
                if (fallback is not null) return fallback;
                throw new CqlException($"Host {_host.EndPoint} is down (reconnecting with backoff).", isTransient: true) { MayHaveBeenApplied = false };
            }
            if (_shardAwarePortUnreachable && _regularAttempts >= 2 * Math.Max(1, ShardCount) && AnyOpen() is { } settled)
                return settled; // without the shard-aware port, shards are whatever the server hands out
            try
            {
                var connection = await OpenAsync(shard, cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _failures, 0);
                return Place(connection);
            }
            catch (CqlException ex) when (ex.IsTransient)
            {
                int failures = Interlocked.Increment(ref _failures);
                var delay = TimeSpan.FromMilliseconds(Math.Min(_options.ReconnectMaxDelay.TotalMilliseconds,
                    _options.ReconnectBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20))));
                Volatile.Write(ref _downUntil, Environment.TickCount64 + (long)delay.TotalMilliseconds);
                CqlLog.HostDown(_logger, _host.EndPoint, ex.Message, delay);
                var fallback = AnyOpen();
                if (fallback is not null) return fallback;
                throw;
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private CqlConnection? AnyOpen()
    {
        foreach (var c in _connections)
            if (c is { IsOpen: true }) return c;
        return null;
    }

    private async Task<CqlConnection> OpenAsync(int shard, CancellationToken cancellationToken)
    {
        var settings = _options.Connection;
        if (ServerInfo is { IsScylla: true } info && info.ShardAwarePortFor(settings.Tls is not null) is int awarePort
            && shard >= 0 && _options.ShardAwarePort && !_shardAwarePortUnreachable)
        {
            var awareEndPoint = new IPEndPoint(_host.EndPoint.Address, awarePort);
            int port = FirstPortFor(shard, info.ShardCount);
            for (int attempt = 0; attempt < 8 && port <= EphemeralHigh; attempt++, port += info.ShardCount)
            {
                try
                {
                    var connection = await CqlConnection.OpenAsync(awareEndPoint, port, settings, _logger, cancellationToken).ConfigureAwait(false);
                    if (connection.ServerInfo.Shard != shard)
                    {
                        // Something between us and the node rewrote the source port (NAT): the shard-aware
                        // port cannot steer us, so stop trying it rather than churn connections.
                        _shardAwarePortUnreachable = true;
                        CqlLog.ShardAwarePortUnreachable(_logger, _host.EndPoint.Address, awarePort);
                    }
                    return connection;
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
                {
                    // That source port is taken; the next one of the same residue class lands on the same shard.
                }
                catch (CqlException ex) when (ex.IsTransient && ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
                {
                }
                catch (CqlException ex) when (ex.IsTransient)
                {
                    _shardAwarePortUnreachable = true;
                    CqlLog.ShardAwarePortUnreachable(_logger, _host.EndPoint.Address, awarePort);
                    break;
                }
            }
        }
        _regularAttempts++;
        return await CqlConnection.OpenAsync(_host.EndPoint, 0, settings, _logger, cancellationToken).ConfigureAwait(false);
    }

    private static int FirstPortFor(int shard, int shardCount)
    {
        int start = EphemeralLow + Random.Shared.Next(EphemeralHigh - EphemeralLow - 8 * shardCount);
        return start - (start % shardCount) + shard;
    }

    /// <summary>Files a new connection under its shard; returns the connection callers should use.</summary>
    private CqlConnection Place(CqlConnection connection)
    {
        ServerInfo ??= connection.ServerInfo;
        var connections = _connections;
        int index;
        if (connection.ServerInfo is { IsScylla: true } info)
        {
            if (connections.Length != info.ShardCount)
            {
                var resized = new CqlConnection?[info.ShardCount];
                foreach (var c in connections)
                    if (c is { IsOpen: true, ServerInfo.Shard: int s } && s < resized.Length && resized[s] is null) resized[s] = c;
                connections = resized;
            }
            index = Math.Clamp(connection.ServerInfo.Shard ?? 0, 0, connections.Length - 1);
        }
        else
        {
            index = Array.FindIndex(connections, c => c is not { IsOpen: true });
            if (index < 0) index = 0;
        }
        var replaced = connections[index];
        if (replaced is { IsOpen: true } && replaced != connection)
        {
            // The server put us on a shard we already serve (regular-port fallback): keep the old one.
            Volatile.Write(ref _connections, connections);
            _ = connection.DisposeAsync();
            return replaced;
        }
        connections[index] = connection;
        Volatile.Write(ref _connections, connections);
        connection.Closed += OnClosed;
        if (replaced is not null && replaced != connection) _ = replaced.DisposeAsync();
        return connection;
    }

    private void OnClosed(CqlConnection connection)
    {
        var connections = Volatile.Read(ref _connections);
        for (int i = 0; i < connections.Length; i++)
            if (connections[i] == connection) connections[i] = null;
    }

    /// <summary>Connections opened, one per shard (or the configured count) — for tests and diagnostics.</summary>
    internal IReadOnlyList<CqlConnection?> Connections => Volatile.Read(ref _connections);

    public async ValueTask DisposeAsync()
    {
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            foreach (var c in _connections)
                if (c is not null) await c.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _connectLock.Release();
        }
    }
}
