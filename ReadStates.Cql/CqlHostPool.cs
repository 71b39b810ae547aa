using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace ReadStates.Cql;

/// <summary>
/// The connections to one host, in slots: on ScyllaDB one slot per shard, each connection opened from a
/// source port that makes the shard-aware port assign that shard (falling back to the regular port when
/// the shard-aware one is unreachable); elsewhere <see cref="CqlClientOptions.ConnectionsPerHost"/>
/// interchangeable slots.
/// <para>
/// Rules that keep reconnection from storming a node (however many requests wait): a slot has at most one
/// connection and at most one open in flight, which every request that needs that slot awaits (a waiter's
/// cancellation abandons only its wait, never the open); a slot is refilled only once its connection has
/// closed; an interchangeable pool grows by one slot at a time, in the background, while its connections
/// are busy, and never makes a request wait for growth; a failed open marks the host down for an
/// exponentially growing delay (<see cref="CqlClientOptions.ReconnectBaseDelay"/> … ReconnectMaxDelay),
/// during which nothing is opened and requests use any open connection or fail at once.
/// </para>
/// Thread safety: the slot arrays change under <c>_lock</c>; the request path reads a published snapshot
/// without locking and takes the lock only when no usable connection is open.
/// </summary>
internal sealed class CqlHostPool : IAsyncDisposable
{
    private const int EphemeralLow = 49152, EphemeralHigh = 65535;

    private readonly CqlHost _host;
    private readonly CqlClientOptions _options;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly CancellationTokenSource _disposing = new();
    private CqlConnection?[] _connections; // published with Volatile.Write; slots replaced under _lock
    private OpenAttempt?[] _opening; // under _lock; same length as _connections
    private int _openingCount;
    private int _roundRobin;
    private int _failures;
    private long _downUntil;
    private volatile bool _shardAwarePortUnreachable;
    private int _regularAttempts;
    private bool _disposed;

    /// <summary>One open in flight for one slot; everyone who needs the slot awaits <see cref="Task"/>.</summary>
    private sealed class OpenAttempt
    {
        public Task<CqlConnection> Task = null!;
    }

    public CqlHostPool(CqlHost host, CqlClientOptions options, ILogger logger)
    {
        _host = host;
        _options = options;
        _logger = logger;
        int slots = Math.Max(1, options.ConnectionsPerHost);
        _connections = new CqlConnection?[slots];
        _opening = new OpenAttempt?[slots];
    }

    /// <summary>Sharding facts learned from the first connection; null until then.</summary>
    public CqlServerInfo? ServerInfo { get; private set; }
    public int ShardCount => ServerInfo is { IsScylla: true } info ? info.ShardCount : 0;
    private bool IsSharded => ServerInfo is { IsScylla: true };
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

    /// <summary>Opens in flight (at most one per slot) — for tests and diagnostics.</summary>
    internal int OpensInFlight => Volatile.Read(ref _openingCount);

    /// <summary>Connections opened, one per shard (or the configured count) — for tests and diagnostics.</summary>
    internal IReadOnlyList<CqlConnection?> Connections => Volatile.Read(ref _connections);

    /// <summary>The shard owning a token on this host, or -1 when the host is not sharded (or not yet known).</summary>
    public int ShardOf(long token)
        => ServerInfo is { IsScylla: true } info ? ScyllaSharding.ShardOf(token, info.ShardCount, info.ShardingIgnoreMsb) : -1;

    /// <summary>A connection for <paramref name="shard"/> (-1 = any); synchronous when one is open.</summary>
    public ValueTask<CqlConnection> GetAsync(int shard, CancellationToken cancellationToken)
    {
        var connections = Volatile.Read(ref _connections);
        if (IsSharded && shard >= 0 && shard < connections.Length)
        {
            if (connections[shard] is { IsOpen: true } exact) return new(exact);
        }
        else if (LeastBusy(connections, out int open) is { } best)
        {
            if (best.InFlight > 0 && open < connections.Length && !IsSharded && Volatile.Read(ref _openingCount) == 0 && !IsDown)
                GrowInBackground();
            return new(best);
        }
        return WaitForConnectionAsync(shard, cancellationToken);
    }

    private CqlConnection? LeastBusy(CqlConnection?[] connections, out int open)
    {
        CqlConnection? best = null;
        open = 0;
        int start = (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)connections.Length);
        for (int i = 0; i < connections.Length; i++)
        {
            var c = connections[(start + i) % connections.Length];
            if (c is not { IsOpen: true }) continue;
            open++;
            if (best is null || c.InFlight < best.InFlight) best = c;
        }
        return best;
    }

    private void GrowInBackground()
    {
        lock (_lock)
        {
            if (_disposed || _openingCount > 0 || IsDown) return;
            int slot = Array.FindIndex(_connections, c => c is not { IsOpen: true });
            if (slot >= 0) StartOpen(slot, -1);
        }
    }

    private async ValueTask<CqlConnection> WaitForConnectionAsync(int shard, CancellationToken cancellationToken)
    {
        OpenAttempt attempt;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var connections = _connections;
            bool exact = IsSharded && shard >= 0 && shard < connections.Length;
            if (exact && connections[shard] is { IsOpen: true } done) return done; // opened while we came here
            var any = LeastBusy(connections, out _);
            if (!exact && any is not null) return any;

            int slot = exact ? shard : SlotToFill();
            if (_opening[slot] is { } inFlight)
            {
                attempt = inFlight;
            }
            else if (IsDown)
            {
                return any ?? throw new CqlException($"Host {_host.EndPoint} is down (reconnecting with backoff).", isTransient: true) { MayHaveBeenApplied = false };
            }
            else if (exact && any is not null && _shardAwarePortUnreachable && Volatile.Read(ref _regularAttempts) >= 2 * Math.Max(1, ShardCount))
            {
                return any; // without the shard-aware port, shards are whatever the server hands out
            }
            else
            {
                attempt = StartOpen(slot, IsSharded ? slot : -1);
            }
        }
        return await attempt.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A slot whose open is in flight (to join it), else the first slot without an open connection.</summary>
    private int SlotToFill()
    {
        int empty = -1;
        for (int i = 0; i < _connections.Length; i++)
        {
            if (_opening[i] is not null) return i;
            if (empty < 0 && _connections[i] is not { IsOpen: true }) empty = i;
        }
        return Math.Max(empty, 0);
    }

    private OpenAttempt StartOpen(int slot, int shard)
    {
        System.Diagnostics.Debug.Assert(Monitor.IsEntered(_lock), "StartOpen runs under the pool lock.");
        System.Diagnostics.Debug.Assert(_opening[slot] is null, "One open in flight per slot.");
        var attempt = new OpenAttempt();
        _opening[slot] = attempt;
        _openingCount++;
        // Off this thread: the open must never run (or complete) under the lock.
        attempt.Task = Task.Run(() => OpenSlotAsync(attempt, slot, shard));
        _ = attempt.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return attempt;
    }

    private async Task<CqlConnection> OpenSlotAsync(OpenAttempt attempt, int slot, int shard)
    {
        CqlConnection connection;
        try
        {
            connection = await OpenAsync(shard, _disposing.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            lock (_lock) EndAttempt(attempt, slot);
            if (ex is CqlException { IsTransient: true })
            {
                int failures = Interlocked.Increment(ref _failures);
                var delay = TimeSpan.FromMilliseconds(Math.Min(_options.ReconnectMaxDelay.TotalMilliseconds,
                    _options.ReconnectBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20))));
                Volatile.Write(ref _downUntil, Environment.TickCount64 + (long)delay.TotalMilliseconds);
                CqlLog.HostDown(_logger, _host.EndPoint, ex.Message, delay);
            }
            throw;
        }
        Volatile.Write(ref _failures, 0);
        lock (_lock)
        {
            EndAttempt(attempt, slot);
            if (_disposed)
            {
                _ = connection.DisposeAsync();
                throw new ObjectDisposedException(nameof(CqlHostPool));
            }
            return Place(connection, slot);
        }
    }

    private void EndAttempt(OpenAttempt attempt, int slot)
    {
        _openingCount--;
        // The slots may have been re-laid out (shards learned) meanwhile: clear only our own entry.
        if (slot < _opening.Length && _opening[slot] == attempt) _opening[slot] = null;
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
        Interlocked.Increment(ref _regularAttempts);
        return await CqlConnection.OpenAsync(_host.EndPoint, 0, settings, _logger, cancellationToken).ConfigureAwait(false);
    }

    private static int FirstPortFor(int shard, int shardCount)
    {
        int start = EphemeralLow + Random.Shared.Next(EphemeralHigh - EphemeralLow - 8 * shardCount);
        return start - (start % shardCount) + shard;
    }

    /// <summary>Files a new connection under its shard (or <paramref name="slot"/>); returns the connection callers should use.</summary>
    private CqlConnection Place(CqlConnection connection, int slot)
    {
        System.Diagnostics.Debug.Assert(Monitor.IsEntered(_lock), "Place runs under the pool lock.");
        ServerInfo ??= connection.ServerInfo;
        var connections = _connections;
        int index;
        if (connection.ServerInfo is { IsScylla: true } info)
        {
            if (connections.Length != info.ShardCount)
            {
                // First word from a sharded node: one slot per shard from now on.
                var resized = new CqlConnection?[info.ShardCount];
                foreach (var c in connections)
                    if (c is { IsOpen: true, ServerInfo.Shard: int s } && s < resized.Length && resized[s] is null) resized[s] = c;
                connections = resized;
                _opening = new OpenAttempt?[info.ShardCount];
            }
            index = Math.Clamp(connection.ServerInfo.Shard ?? 0, 0, connections.Length - 1);
        }
        else
        {
            index = slot < connections.Length && connections[slot] is not { IsOpen: true } ? slot
                : Array.FindIndex(connections, c => c is not { IsOpen: true });
        }
        var existing = index >= 0 ? connections[index] : LeastBusy(connections, out _);
        if (existing is { IsOpen: true })
        {
            // The server put us on a shard we already serve (regular-port fallback): keep the old one.
            Volatile.Write(ref _connections, connections);
            _ = connection.DisposeAsync();
            return existing;
        }
        connections[index] = connection;
        Volatile.Write(ref _connections, connections);
        connection.Closed += OnClosed;
        return connection;
    }

    private void OnClosed(CqlConnection connection)
    {
        lock (_lock)
        {
            var connections = _connections;
            for (int i = 0; i < connections.Length; i++)
                if (connections[i] == connection) connections[i] = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        CqlConnection?[] connections;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            connections = [.. _connections];
        }
        await _disposing.CancelAsync().ConfigureAwait(false);
        foreach (var c in connections)
            if (c is not null) await c.DisposeAsync().ConfigureAwait(false);
    }
}
