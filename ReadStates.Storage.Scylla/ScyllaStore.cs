using System.Buffers;
using Microsoft.Extensions.Logging;
using ReadStates.Core;
using ReadStates.Cql;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.Scylla;

/// <summary>
/// <see cref="IReadStateStore"/> on ScyllaDB through our CQL v4 client. One partition per user
/// (<c>read_states</c>, clustered by channel_id); channel_id 0 is the user's meta row holding the user
/// version and sync floor. Writes are one unlogged batch of prepared statements per user partition with a
/// client-side timestamp, so a retried flush is idempotent; deleted states above the floor become tombstone
/// rows (flag and deletion time, see <see cref="ScyllaSchema"/>), at or below it DELETEs; never a null (no cell
/// tombstones), and unset for the columns a statement does not mean to change.
/// </summary>
public sealed partial class ScyllaStore : IReadStateStore
{
    /// <summary>The per-user meta row's clustering key; the engine never uses channel 0.</summary>
    public const long MetaChannelId = 0;

    private readonly ScyllaOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly Stack<WriteContext> _contexts = new();
    private readonly Stack<StateBatch> _scratch = new();
    private Connected? _connected;
    private Exception? _lastConnectFailure;
    private long _lastConnectFailureTicks;
    private bool _disposed;

    /// <summary>The session and the three prepared statements, once connected.</summary>
    private sealed record Connected(CqlSession Session, PreparedStatement Upsert, PreparedStatement Delete, PreparedStatement Select);

    private ScyllaStore(ScyllaOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
    }

    public string Name => "scylla";

    internal CqlSession Session => (_connected ?? throw new InvalidOperationException("Not connected yet.")).Session;

    /// <summary>
    /// A store that connects on first use (and again after a failed attempt, at most once a second), so the
    /// service can start while ScyllaDB is still coming up; the engine's retries cover the gap. Throws
    /// <see cref="ArgumentException"/> for invalid options.
    /// </summary>
    public static ScyllaStore Create(ScyllaOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join(" ", errors), nameof(options));
        return new ScyllaStore(options, logger);
    }

    /// <summary>Creates the store and connects now: topology, schema (if enabled), prepared statements.</summary>
    public static async Task<ScyllaStore> CreateAsync(ScyllaOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var store = Create(options, logger);
        try
        {
            await store.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Connects now if not connected yet (e.g. from a start-up health check).</summary>
    public Task ConnectAsync(CancellationToken cancellationToken) => EnsureConnectedAsync(cancellationToken).AsTask();

    private ValueTask<Connected> EnsureConnectedAsync(CancellationToken cancellationToken)
    {
        var connected = Volatile.Read(ref _connected);
        return connected is not null ? new(connected) : ConnectSlowAsync(cancellationToken);
    }

    private async ValueTask<Connected> ConnectSlowAsync(CancellationToken cancellationToken)
    {
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connected is { } done) return done;
            // Many loads may be waiting: after a failure, fail fast for a second instead of each one timing out again.
            if (_lastConnectFailure is { } recent && Environment.TickCount64 - _lastConnectFailureTicks < 1000)
                throw new CqlException("ScyllaDB is unreachable: " + recent.Message, isTransient: true, recent) { MayHaveBeenApplied = false };
            CqlSession? session = null;
            try
            {
                session = await CqlSession.ConnectAsync(_options.ToClientOptions(), _logger, cancellationToken).ConfigureAwait(false);
                if (_options.CreateSchema) await CreateSchemaAsync(session, _options, _logger, cancellationToken).ConfigureAwait(false);
                var upsert = await session.PrepareAsync(ScyllaSchema.Upsert(_options.Keyspace), cancellationToken).ConfigureAwait(false);
                var delete = await session.PrepareAsync(ScyllaSchema.Delete(_options.Keyspace), cancellationToken).ConfigureAwait(false);
                var select = await session.PrepareAsync(ScyllaSchema.Select(_options.Keyspace), cancellationToken).ConfigureAwait(false);
                ScyllaLog.Ready(_logger, session.HostCount, session.LocalDatacenter, _options.Keyspace);
                var connected = new Connected(session, upsert, delete, select);
                Volatile.Write(ref _connected, connected);
                _lastConnectFailure = null;
                return connected;
            }
            catch (Exception ex) when (ex is CqlException or OperationCanceledException)
            {
                if (session is not null) await session.DisposeAsync().ConfigureAwait(false);
                if (ex is CqlException)
                {
                    _lastConnectFailure = ex;
                    _lastConnectFailureTicks = Environment.TickCount64;
                    ScyllaLog.ConnectFailed(_logger, ex.Message);
                }
                throw;
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private static async Task CreateSchemaAsync(CqlSession session, ScyllaOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var ddl = CqlRequestOptions.Default(CqlConsistency.One); // schema changes ignore the consistency level
        string dc = options.LocalDatacenter ?? session.LocalDatacenter ?? "datacenter1";
        try
        {
            (await session.QueryAsync(ScyllaSchema.CreateKeyspace(options.Keyspace, dc, options.ReplicationFactor), null, ddl, cancellationToken).ConfigureAwait(false))?.Dispose();
        }
        catch (CqlServerException ex) when (ex.Code is CqlErrorCode.ConfigError or CqlErrorCode.SyntaxError or CqlErrorCode.Invalid
            && ex.ServerMessage.Contains("tablets", StringComparison.OrdinalIgnoreCase))
        {
            // ScyllaDB before 6.0 (and Cassandra) has no tablets, so vnode routing is the only kind there.
            ScyllaLog.NoTablets(logger);
            (await session.QueryAsync(ScyllaSchema.CreateKeyspace(options.Keyspace, dc, options.ReplicationFactor, tablets: false), null, ddl, cancellationToken).ConfigureAwait(false))?.Dispose();
        }
        (await session.QueryAsync(ScyllaSchema.CreateTable(options.Keyspace), null, ddl, cancellationToken).ConfigureAwait(false))?.Dispose();
        try
        {
            (await session.QueryAsync(ScyllaSchema.AddSyncFloor(options.Keyspace), null, ddl, cancellationToken).ConfigureAwait(false))?.Dispose();
            ScyllaLog.AddedSyncFloor(logger, options.Keyspace);
        }
        catch (CqlServerException ex) when (ex.Code is CqlErrorCode.Invalid or CqlErrorCode.AlreadyExists
            && (ex.ServerMessage.Contains("exist", StringComparison.OrdinalIgnoreCase) || ex.ServerMessage.Contains("conflict", StringComparison.OrdinalIgnoreCase)))
        {
            // The table has it (created with it, or altered before).
        }
        if (!await session.WaitForSchemaAgreementAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false))
            ScyllaLog.NoSchemaAgreement(logger);
    }

    /// <summary>
    /// Reads the user's partition page by page into a pooled scratch batch and appends it to
    /// <paramref name="into"/> only once every page has arrived, so a failed load leaves it untouched.
    /// </summary>
    public async Task LoadUserAsync(ulong userId, StateBatch into, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(into);
        var connected = await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        var scratch = RentScratch();
        try
        {
            scratch.BeginUser(userId, 0);
            await ReadPartitionAsync(connected, userId, scratch, cancellationToken).ConfigureAwait(false);
            var user = scratch.Users[0];
            into.BeginUser(userId, 0);
            // Snowflakes >= 2^63 sort first as signed bigints: emit them last so the order is unsigned.
            var states = scratch.StatesOf(user);
            int firstLow = 0;
            while (firstLow < states.Length && (long)states[firstLow].State.ChannelId < 0) firstLow++;
            for (int i = firstLow; i < states.Length; i++) Append(into, scratch, states[i], user.SyncFloor);
            for (int i = 0; i < firstLow; i++) Append(into, scratch, states[i], user.SyncFloor);
            into.RaiseVersion(user.Version);
            into.RaiseSyncFloor(user.SyncFloor);
        }
        finally
        {
            ReturnScratch(scratch);
        }
    }

    // A tombstone at or below the floor is one whose purge did not land (its meta row did, in a later batch
    // of a multi-batch write that was retried): forgotten history, not reported.
    private static void Append(StateBatch into, StateBatch scratch, in StoredState s, ulong syncFloor)
    {
        if (s.IsDeleted && s.State.Version <= syncFloor) return;
        into.AddState(s.State, s.OverflowCount, s.OverflowMaxId, scratch.MentionsOf(s));
    }

    private async Task ReadPartitionAsync(Connected connected, ulong userId, StateBatch scratch, CancellationToken cancellationToken)
    {
        using var values = new CqlValues(16);
        values.AddBigint(unchecked((long)userId));
        var options = CqlRequestOptions.Default(_options.Consistency);
        options.Idempotent = true;
        options.PageSize = _options.PageSize;
        ulong[] ids = ArrayPool<ulong>.Shared.Rent(64);
        try
        {
            while (true)
            {
                using var rows = await connected.Session.ExecuteAsync(connected.Select, values, options, cancellationToken).ConfigureAwait(false)
                    ?? throw new CqlException("SELECT returned no rows result.", isTransient: false);
                while (rows.MoveNext())
                {
                    long channel = rows.GetInt64(0);
                    if (channel == MetaChannelId)
                    {
                        ulong version = unchecked((ulong)rows.GetInt64(9));
                        scratch.RaiseVersion(version);
                        // A meta row from before sync floors: its deletions left no trace, so history starts at its version.
                        scratch.RaiseSyncFloor(rows.IsNull(10) ? version : unchecked((ulong)rows.GetInt64(10)));
                        continue;
                    }
                    int flags = rows.GetInt32(6);
                    if ((flags & ScyllaSchema.TombstoneFlag) != 0)
                    {
                        scratch.AddState(ReadState.Tombstone(unchecked((ulong)channel), unchecked((ulong)rows.GetInt64(9)), rows.GetInt64(7)), 0, 0, []);
                        continue;
                    }
                    var state = new ReadState
                    {
                        ChannelId = unchecked((ulong)channel),
                        LastMessageId = unchecked((ulong)rows.GetInt64(1)),
                        MentionCount = rows.GetInt32(2),
                        Type = (ReadStateType)rows.GetSByte(4),
                        ParentId = unchecked((ulong)rows.GetInt64(5)),
                        Flags = (ReadStateFlags)flags & ReadState.PublicFlags,
                        LastPinTimestamp = rows.GetInt64(7),
                        LastViewed = rows.GetInt32(8),
                        Version = unchecked((ulong)rows.GetInt64(9)),
                    };
                    var blob = rows.GetBytes(3);
                    int count = MentionIdsCodec.PeekCount(blob);
                    if (count > ids.Length)
                    {
                        ArrayPool<ulong>.Shared.Return(ids);
                        ids = ArrayPool<ulong>.Shared.Rent(count);
                    }
                    int n = MentionIdsCodec.Decode(blob, out int overflowCount, out ulong overflowMaxId, ids);
                    scratch.AddState(state, overflowCount, overflowMaxId, ids.AsSpan(0, n));
                }
                if (rows.PagingState is null) return;
                options.PagingState = rows.PagingState;
            }
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(ids);
        }
    }

    private StateBatch RentScratch()
    {
        lock (_scratch)
        {
            if (_scratch.Count > 0) return _scratch.Pop();
        }
        return new StateBatch();
    }

    private void ReturnScratch(StateBatch scratch)
    {
        scratch.Clear();
        lock (_scratch)
        {
            if (_scratch.Count < 64) _scratch.Push(scratch);
        }
    }

    public async Task WriteAsync(StateBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int users = batch.UserCount;
        if (users == 0) return;
        var connected = await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        var lanes = new WriteLanes(this, connected, batch, cancellationToken);
        int laneCount = Math.Min(users, _options.WriteConcurrency);
        if (laneCount == 1)
        {
            await lanes.RunLaneAsync().ConfigureAwait(false);
        }
        else
        {
            var tasks = new Task[laneCount];
            for (int i = 0; i < laneCount; i++) tasks[i] = lanes.RunLaneAsync();
            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch
            {
                // Surface the first real failure rather than an AggregateException or a follow-on cancellation.
                var first = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault(e => e is not OperationCanceledException);
                if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
                throw;
            }
        }
    }

    private WriteContext RentContext()
    {
        lock (_contexts)
        {
            if (_contexts.Count > 0) return _contexts.Pop();
        }
        return new WriteContext();
    }

    private void ReturnContext(WriteContext context)
    {
        lock (_contexts) _contexts.Push(context);
    }

    public async ValueTask DisposeAsync()
    {
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            if (_connected is { } connected) await connected.Session.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _connectLock.Release();
        }
        lock (_contexts)
        {
            while (_contexts.Count > 0) _contexts.Pop().Dispose();
        }
    }
}
