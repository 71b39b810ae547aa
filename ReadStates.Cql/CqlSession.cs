using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ReadStates.Cql;

/// <summary>
/// A client of one cluster: topology (partials: <c>CqlSession.Topology.cs</c>), a pool per host,
/// token- and shard-aware routing, prepared statement cache with re-prepare on UNPREPARED, and
/// retries of idempotent requests.
/// </summary>
public sealed partial class CqlSession : IAsyncDisposable
{
    private readonly CqlClientOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, PreparedStatement> _prepared = new(StringComparer.Ordinal);
    private TokenRing _ring = new([]);
    private int _roundRobin;
    private Timer? _refreshTimer;

    private CqlSession(CqlClientOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
    }

    public CqlClientOptions Options => _options;
    public MonotonicTimestamp Clock { get; } = new();
    internal TokenRing Ring => Volatile.Read(ref _ring);
    /// <summary>Hosts of the local datacenter known from the last topology read.</summary>
    public int HostCount => Ring.Hosts.Count;

    public static async Task<CqlSession> ConnectAsync(CqlClientOptions options, ILogger? logger, CancellationToken cancellationToken)
    {
        var session = new CqlSession(options, logger ?? NullLogger.Instance);
        try
        {
            await session.RefreshTopologyAsync(cancellationToken).ConfigureAwait(false);
            if (options.TopologyRefreshInterval > TimeSpan.Zero)
            {
                session._refreshTimer = new Timer(static s => _ = ((CqlSession)s!).RefreshInBackgroundAsync(), session,
                    options.TopologyRefreshInterval, options.TopologyRefreshInterval);
            }
            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private enum RequestKind : byte { Query, Execute, Batch }

    private struct Request
    {
        public RequestKind Kind;
        public string? Query;
        public PreparedStatement? Statement;
        public CqlBatch? Batch;
        public QueryParameters Parameters;
        public bool Idempotent;
        public TimeSpan Timeout;
        public bool HasToken;
        public long Token;

        public readonly PooledFrame Encode() => Kind switch
        {
            RequestKind.Query => CqlRequests.Query(Query!, Parameters),
            RequestKind.Execute => CqlRequests.Execute(Statement!.Id, Parameters),
            _ => CqlRequests.Batch(Batch!, Parameters.Consistency, Parameters.SerialConsistency, Parameters.Timestamp),
        };
    }

    public async Task<PreparedStatement> PrepareAsync(string query, CancellationToken cancellationToken)
    {
        if (_prepared.TryGetValue(query, out var cached)) return cached;
        var ring = Ring;
        Exception? last = null;
        for (int i = 0; i < ring.Hosts.Count && i <= _options.MaxRetries; i++)
        {
            var host = ring.Hosts[(int)((uint)(Interlocked.Increment(ref _roundRobin) + i) % (uint)ring.Hosts.Count)];
            try
            {
                var connection = await host.Pool.GetAsync(-1, cancellationToken).ConfigureAwait(false);
                var result = await PrepareOnAsync(connection, query, cancellationToken).ConfigureAwait(false);
                return _prepared.GetOrAdd(query, new PreparedStatement(query, result));
            }
            catch (CqlException ex) when (ex.IsTransient)
            {
                last = ex;
            }
        }
        throw last ?? new CqlException("No host to prepare on.", isTransient: true);
    }

    private async Task<PreparedResult> PrepareOnAsync(CqlConnection connection, string query, CancellationToken cancellationToken)
    {
        using var frame = CqlRequests.Prepare(query);
        using var response = await connection.SendAsync(frame, _options.Connection.RequestTimeout, cancellationToken).ConfigureAwait(false);
        response.ThrowIfError();
        return CqlResults.ReadPrepared(response.Body);
    }

    /// <summary>Runs a prepared statement; returns the rows for a SELECT, else null.</summary>
    public ValueTask<CqlRowSet?> ExecuteAsync(PreparedStatement statement, CqlValues? values, in CqlRequestOptions options, CancellationToken cancellationToken)
    {
        var request = new Request
        {
            Kind = RequestKind.Execute,
            Statement = statement,
            Parameters = ToParameters(values, options),
            Idempotent = options.Idempotent,
            Timeout = options.Timeout ?? _options.Connection.RequestTimeout,
        };
        if (values is not null) request.HasToken = Murmur3.TryTokenOf(values, 0, statement.PartitionKeyIndexes, out request.Token);
        return RunForRowsAsync(request, cancellationToken);
    }

    /// <summary>Runs a text statement (DDL, topology); returns the rows for a SELECT, else null.</summary>
    public ValueTask<CqlRowSet?> QueryAsync(string query, CqlValues? values, in CqlRequestOptions options, CancellationToken cancellationToken)
    {
        var request = new Request
        {
            Kind = RequestKind.Query,
            Query = query,
            Parameters = ToParameters(values, options),
            Idempotent = options.Idempotent,
            Timeout = options.Timeout ?? _options.Connection.RequestTimeout,
        };
        return RunForRowsAsync(request, cancellationToken);
    }

    /// <summary>Sends a batch, routed by the partition key of its first prepared statement.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask BatchAsync(CqlBatch batch, CqlRequestOptions options, CancellationToken cancellationToken)
    {
        var request = new Request
        {
            Kind = RequestKind.Batch,
            Batch = batch,
            Parameters = new QueryParameters { Consistency = options.Consistency, Timestamp = options.Timestamp },
            Idempotent = options.Idempotent,
            Timeout = options.Timeout ?? _options.Connection.RequestTimeout,
        };
        foreach (ref readonly var e in batch.Entries)
        {
            if (e.Statement is { } s && Murmur3.TryTokenOf(batch.Values, e.FirstValue, s.PartitionKeyIndexes, out request.Token))
            {
                request.HasToken = true;
                break;
            }
        }
        using var response = await RunAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private static QueryParameters ToParameters(CqlValues? values, in CqlRequestOptions options) => new()
    {
        Consistency = options.Consistency,
        Values = values,
        PageSize = options.PageSize,
        PagingState = options.PagingState,
        Timestamp = options.Timestamp,
    };

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<CqlRowSet?> RunForRowsAsync(Request request, CancellationToken cancellationToken)
    {
        var response = await RunAsync(request, cancellationToken).ConfigureAwait(false);
        try
        {
            if (response.Opcode != CqlOpcode.Result) CqlThrow.Protocol($"expected RESULT, got {response.Opcode}.");
            return CqlRowSet.FromResponse(ref response);
        }
        finally
        {
            response.Dispose();
        }
    }

    /// <summary>Sends a request along its query plan, retrying what may be retried.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<CqlResponse> RunAsync(Request request, CancellationToken cancellationToken)
    {
        var ring = Ring;
        if (ring.Hosts.Count == 0) throw new CqlException("No hosts known.", isTransient: true) { MayHaveBeenApplied = false };
        int[] plan = request.HasToken ? ring.PlanFor(request.Token) : ring.AllHosts;
        int offset = request.HasToken ? 0 : (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)plan.Length);
        int attempts = 0, reprepares = 0;
        Exception? last = null;
        CqlConnection? sticky = null;
        while (true)
        {
            CqlConnection connection;
            if (sticky is not null)
            {
                connection = sticky;
                sticky = null;
            }
            else
            {
                if (attempts > _options.MaxRetries) throw last!;
                var host = ring.Hosts[plan[(offset + attempts) % plan.Length]];
                attempts++;
                int shard = request.HasToken ? host.Pool.ShardOf(request.Token) : -1;
                try
                {
                    connection = await host.Pool.GetAsync(shard, cancellationToken).ConfigureAwait(false);
                }
                catch (CqlException ex) when (ex.IsTransient)
                {
                    // Nothing was sent; give a host that is down (or reconnecting) a moment before the next try.
                    last = ex;
                    if (attempts <= _options.MaxRetries)
                    {
                        long wait = Math.Min(host.Pool.RetryAfterMilliseconds, (long)_options.Connection.RequestTimeout.TotalMilliseconds);
                        if (wait > 0 && plan.Length == 1) await Task.Delay(TimeSpan.FromMilliseconds(wait), cancellationToken).ConfigureAwait(false);
                        else await BackoffAsync(attempts, cancellationToken).ConfigureAwait(false);
                    }
                    continue;
                }
            }

            CqlResponse response;
            using (var frame = request.Encode())
            {
                try
                {
                    response = await connection.SendAsync(frame, request.Timeout, cancellationToken).ConfigureAwait(false);
                }
                catch (CqlException ex) when (ex.IsTransient && (request.Idempotent || !ex.MayHaveBeenApplied) && attempts <= _options.MaxRetries)
                {
                    last = ex;
                    CqlLog.Retrying(_logger, connection.EndPoint, attempts, ex.Message);
                    await BackoffAsync(attempts, cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }
            if (response.Opcode != CqlOpcode.Error) return response;

            CqlServerException error;
            using (response) error = CqlServerException.Decode(response.Body);
            if (error.Code == CqlErrorCode.Unprepared && reprepares++ < 3)
            {
                try
                {
                    await ReprepareAsync(connection, request, error.UnpreparedId, cancellationToken).ConfigureAwait(false);
                    sticky = connection;
                }
                catch (CqlException ex) when (ex.IsTransient)
                {
                    last = ex; // the node went away while re-preparing: try the next one
                }
                continue;
            }
            bool notApplied = error.Code is CqlErrorCode.Overloaded or CqlErrorCode.IsBootstrapping or CqlErrorCode.Unavailable;
            if (error.IsTransient && (request.Idempotent || notApplied) && attempts <= _options.MaxRetries)
            {
                last = error;
                CqlLog.Retrying(_logger, connection.EndPoint, attempts, error.Message);
                await BackoffAsync(attempts, cancellationToken).ConfigureAwait(false);
                continue;
            }
            throw error;
        }
    }

    private Task BackoffAsync(int attempt, CancellationToken cancellationToken)
    {
        double ms = Math.Min(1000, _options.RetryDelay.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return ms <= 0 ? Task.CompletedTask : Task.Delay(TimeSpan.FromMilliseconds(ms * (0.5 + Random.Shared.NextDouble() / 2)), cancellationToken);
    }

    /// <summary>Prepares again, on the node that forgot them, the statements of a request that got UNPREPARED.</summary>
    private async Task ReprepareAsync(CqlConnection connection, Request request, byte[]? unknownId, CancellationToken cancellationToken)
    {
        var statements = new List<PreparedStatement>();
        if (request.Statement is not null) statements.Add(request.Statement);
        if (request.Batch is not null)
        {
            foreach (ref readonly var e in request.Batch.Entries)
                if (e.Statement is { } s && !statements.Contains(s) && (unknownId is null || s.Id.AsSpan().SequenceEqual(unknownId))) statements.Add(s);
            if (statements.Count == 0)
                foreach (ref readonly var e in request.Batch.Entries)
                    if (e.Statement is { } s && !statements.Contains(s)) statements.Add(s);
        }
        if (statements.Count == 0) CqlThrow.Protocol("UNPREPARED for a request without prepared statements.");
        foreach (var s in statements)
        {
            s.Update(await PrepareOnAsync(connection, s.Query, cancellationToken).ConfigureAwait(false));
        }
        CqlLog.Reprepared(_logger, connection.EndPoint);
    }

    private async Task RefreshInBackgroundAsync()
    {
        try
        {
            await RefreshTopologyAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CqlException or ObjectDisposedException)
        {
            CqlLog.TopologyRefreshFailed(_logger, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_refreshTimer is not null) await _refreshTimer.DisposeAsync().ConfigureAwait(false);
        foreach (var host in Ring.Hosts) await host.DisposeAsync().ConfigureAwait(false);
        foreach (var host in _retired) await host.DisposeAsync().ConfigureAwait(false);
    }
}
