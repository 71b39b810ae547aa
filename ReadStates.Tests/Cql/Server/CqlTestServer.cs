using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ReadStates.Cql;

namespace ReadStates.Tests.Cql.Server;

/// <summary>One BATCH as the server applied it; <see cref="PartitionKey"/> is the hex of the (first) partition key.</summary>
internal sealed record BatchRecord(CqlBatchType Type, int Statements, long Timestamp, int Partitions, int Shard, string PartitionKey);

/// <summary>Settings of a <see cref="CqlTestServer"/>.</summary>
internal sealed record CqlTestServerOptions
{
    public IPAddress Address { get; init; } = IPAddress.Loopback;
    /// <summary>0 = any free port.</summary>
    public int Port { get; init; }
    /// <summary>Require PasswordAuthenticator with these credentials when set.</summary>
    public string? Username { get; init; }
    public string? Password { get; init; }
    /// <summary>0 = behave like Cassandra (no SCYLLA_* keys); else advertise that many shards.</summary>
    public int ShardCount { get; init; }
    public int ShardingIgnoreMsb { get; init; } = 12;
    /// <summary>Listen on a shard-aware port too (ScyllaDB: shard = client source port % shards).</summary>
    public bool ShardAwarePort { get; init; } = true;
    public bool OfferLz4 { get; init; } = true;
    public string Datacenter { get; init; } = "dc1";
    public string Rack { get; init; } = "rack1";
    public long[] Tokens { get; init; } = [-6148914691236517206, -1, 6148914691236517204];
    /// <summary>Other nodes of the cluster, returned by system.peers (same port as ours).</summary>
    public IReadOnlyList<(IPAddress Address, string Datacenter, long[] Tokens)> Peers { get; init; } = [];
    /// <summary>Behave like ScyllaDB before 6.0 or Cassandra: a keyspace option 'tablets' is a configuration error.</summary>
    public bool RejectTablets { get; init; }
    /// <summary>Shared with the servers of the other nodes of one cluster.</summary>
    public InMemoryTables? Tables { get; init; }
    /// <summary>TLS mode: every listener speaks TLS with this certificate (which holds its private key); null = plain TCP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }
    /// <summary>TLS mode: require a client certificate that chains to this CA; null = none asked for.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCa { get; init; }
}

/// <summary>
/// A loopback CQL v4 server for tests, built on the production codec (frame header, reader, writer,
/// types, LZ4 helpers). It serves the handshake, optional PasswordAuthenticator, system.local/peers,
/// and QUERY/PREPARE/EXECUTE/BATCH over <see cref="InMemoryTables"/>, and injects faults on demand.
/// </summary>
internal sealed partial class CqlTestServer : IAsyncDisposable
{
    private readonly CqlTestServerOptions _options;
    private readonly Socket _listener;
    private Socket? _awareListener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<ServerConnection, byte> _connections = new();
    private readonly ConcurrentDictionary<string, ParsedStatement> _prepared = new(StringComparer.Ordinal);
    private readonly List<Task> _acceptLoops = [];
    private int _epoch;
    private int _regularShard;
    private int _delayedReplies;
    private int _failures;
    private int _successesBeforeFailures;
    private CqlErrorCode _failureCode;

    public CqlTestServer(CqlTestServerOptions? options = null)
    {
        _options = options ?? new CqlTestServerOptions();
        Tables = _options.Tables ?? new InMemoryTables();
        Peers = _options.Peers;
        _listener = Listen(_options.Address, _options.Port);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoops.Add(AcceptLoopAsync(_listener, shardAware: false));
        if (_options.ShardCount > 0 && _options.ShardAwarePort)
        {
            _awareListener = Listen(_options.Address, 0);
            ShardAwarePort = ((IPEndPoint)_awareListener.LocalEndPoint!).Port;
            _acceptLoops.Add(AcceptLoopAsync(_awareListener, shardAware: true));
        }
    }

    private static Socket Listen(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // A node "restarted" on its old port: the connections it aborted linger in TIME_WAIT.
        if (port != 0) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(new IPEndPoint(address, port));
        socket.Listen(128);
        return socket;
    }

    public InMemoryTables Tables { get; }
    /// <summary>What system.peers returns; starts as the options' peers, replace it to add or remove nodes.</summary>
    public IReadOnlyList<(IPAddress Address, string Datacenter, long[] Tokens)> Peers { get; set; }
    public IPAddress Address => _options.Address;
    public int Port { get; }
    /// <summary>The shard-aware port (0 when none).</summary>
    public int ShardAwarePort { get; }
    public string ContactPoint => $"{_options.Address}:{Port}";
    public Guid HostId { get; } = Guid.NewGuid();

    // Observations for assertions.
    public int ConnectionsAccepted => Volatile.Read(ref _accepted);
    public int OpenConnections => _connections.Count;
    public ConcurrentQueue<(CqlOpcode Opcode, int Shard, string Query)> Requests { get; } = new();
    public ConcurrentQueue<Dictionary<string, string>> Startups { get; } = new();
    public ConcurrentQueue<BatchRecord> Batches { get; } = new();
    public int PrepareCount => Volatile.Read(ref _prepares);
    public int CompressedRequests => Volatile.Read(ref _compressedRequests);
    private int _accepted, _prepares, _compressedRequests, _options_count;
    public int OptionsCount => Volatile.Read(ref _options_count);

    /// <summary>Closes every client connection (the server keeps listening).</summary>
    public void DropConnections()
    {
        foreach (var c in _connections.Keys) c.Abort();
    }

    /// <summary>Like a node restart: connections dropped and every prepared id forgotten (new ids from now on).</summary>
    public void Restart()
    {
        Interlocked.Increment(ref _epoch);
        _prepared.Clear();
        DropConnections();
    }

    /// <summary>Forgets prepared ids without dropping connections (the next EXECUTE gets UNPREPARED).</summary>
    public void ForgetPrepared()
    {
        Interlocked.Increment(ref _epoch);
        _prepared.Clear();
    }

    /// <summary>The next <paramref name="count"/> QUERY/EXECUTE/BATCH replies are sent after <paramref name="delay"/> (the work is done at once).</summary>
    public void DelayReplies(int count, TimeSpan delay)
    {
        ReplyDelay = delay;
        Volatile.Write(ref _delayedReplies, count);
    }

    public TimeSpan ReplyDelay { get; private set; }

    private volatile TaskCompletionSource? _paused;

    /// <summary>From now on QUERY/EXECUTE/BATCH are done at once but their replies are held until <see cref="ResumeReplies"/> (a paused node).</summary>
    public void PauseReplies() => _paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ResumeReplies() => Interlocked.Exchange(ref _paused, null)?.TrySetResult();

    /// <summary>Completes when replies may be sent (at once unless paused).</summary>
    internal Task RepliesAllowed => _paused?.Task ?? Task.CompletedTask;

    /// <summary>The next <paramref name="count"/> QUERY/EXECUTE/BATCH requests fail with <paramref name="code"/> and change nothing.</summary>
    public void FailNext(int count, CqlErrorCode code = CqlErrorCode.Overloaded, int afterSuccesses = 0)
    {
        _failureCode = code;
        Volatile.Write(ref _successesBeforeFailures, afterSuccesses);
        Volatile.Write(ref _failures, count);
    }

    /// <summary>Whether this QUERY/EXECUTE/BATCH must fail (after the allowed successes are used up).</summary>
    private bool ShouldFail()
    {
        if (Volatile.Read(ref _failures) <= 0) return false;
        if (TakeOne(ref _successesBeforeFailures)) return false;
        return TakeOne(ref _failures);
    }

    /// <summary>Stops the shard-aware listener, so connects to it are refused.</summary>
    public void CloseShardAwarePort()
    {
        _awareListener?.Dispose();
        _awareListener = null;
    }

    private static bool TakeOne(ref int counter)
    {
        while (true)
        {
            int n = Volatile.Read(ref counter);
            if (n <= 0) return false;
            if (Interlocked.CompareExchange(ref counter, n - 1, n) == n) return true;
        }
    }

    private async Task AcceptLoopAsync(Socket listener, bool shardAware)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            socket.NoDelay = true;
            Interlocked.Increment(ref _accepted);
            int shard = 0;
            if (_options.ShardCount > 0)
            {
                shard = shardAware
                    ? ((IPEndPoint)socket.RemoteEndPoint!).Port % _options.ShardCount
                    : (int)((uint)Interlocked.Increment(ref _regularShard) % (uint)_options.ShardCount);
            }
            var connection = new ServerConnection(this, socket, shard);
            _connections[connection] = 0;
            _ = connection.RunAsync(_stop.Token).ContinueWith(_ => _connections.TryRemove(connection, out byte _), TaskScheduler.Default);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        ResumeReplies();
        _listener.Dispose();
        _awareListener?.Dispose();
        DropConnections();
        await Task.WhenAll(_acceptLoops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stop.Dispose();
    }
}
