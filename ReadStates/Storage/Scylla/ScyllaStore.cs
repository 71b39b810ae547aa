using System.Buffers;
using Microsoft.Extensions.Logging;
using ReadStates.Core;
using ReadStates.Storage.Cql;

namespace ReadStates.Storage.Scylla;

/// <summary>
/// <see cref="IReadStateStore"/> on ScyllaDB through our CQL v4 client. One partition per user
/// (<c>read_states</c>, clustered by channel_id); channel_id 0 is the user's meta row holding the user
/// version. Writes are one unlogged batch of prepared statements per user partition with a client-side
/// timestamp, so a retried flush is idempotent; deleted states become DELETEs; never a null (no cell
/// tombstones), and unset for the columns a statement does not mean to change.
/// </summary>
public sealed partial class ScyllaStore : IReadStateStore
{
    /// <summary>The per-user meta row's clustering key; the engine never uses channel 0.</summary>
    public const long MetaChannelId = 0;

    private readonly ScyllaOptions _options;
    private readonly CqlSession _session;
    private readonly PreparedStatement _upsert;
    private readonly PreparedStatement _delete;
    private readonly PreparedStatement _select;
    private readonly Stack<WriteContext> _contexts = new();
    private readonly Stack<StateBatch> _scratch = new();

    private ScyllaStore(ScyllaOptions options, CqlSession session, PreparedStatement upsert, PreparedStatement delete, PreparedStatement select)
    {
        _options = options;
        _session = session;
        _upsert = upsert;
        _delete = delete;
        _select = select;
    }

    public string Name => "scylla";

    internal CqlSession Session => _session;

    /// <summary>Connects, creates the keyspace and table when missing (if enabled), and prepares the statements.</summary>
    public static async Task<ScyllaStore> CreateAsync(ScyllaOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = options.Validate();
        if (errors.Count > 0) throw new ArgumentException(string.Join(" ", errors), nameof(options));

        var session = await CqlSession.ConnectAsync(options.ToClientOptions(), logger, cancellationToken).ConfigureAwait(false);
        try
        {
            if (options.CreateSchema) await CreateSchemaAsync(session, options, logger, cancellationToken).ConfigureAwait(false);
            var upsert = await session.PrepareAsync(ScyllaSchema.Upsert(options.Keyspace), cancellationToken).ConfigureAwait(false);
            var delete = await session.PrepareAsync(ScyllaSchema.Delete(options.Keyspace), cancellationToken).ConfigureAwait(false);
            var select = await session.PrepareAsync(ScyllaSchema.Select(options.Keyspace), cancellationToken).ConfigureAwait(false);
            ScyllaLog.Ready(logger, session.Ring.Hosts.Count, session.LocalDatacenter, options.Keyspace);
            return new ScyllaStore(options, session, upsert, delete, select);
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task CreateSchemaAsync(CqlSession session, ScyllaOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var ddl = CqlRequestOptions.Default(CqlConsistency.All);
        string dc = options.LocalDatacenter ?? session.LocalDatacenter ?? "datacenter1";
        (await session.QueryAsync(ScyllaSchema.CreateKeyspace(options.Keyspace, dc, options.ReplicationFactor), null, ddl, cancellationToken).ConfigureAwait(false))?.Dispose();
        (await session.QueryAsync(ScyllaSchema.CreateTable(options.Keyspace), null, ddl, cancellationToken).ConfigureAwait(false))?.Dispose();
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
        var scratch = RentScratch();
        try
        {
            scratch.BeginUser(userId, 0);
            await ReadPartitionAsync(userId, scratch, cancellationToken).ConfigureAwait(false);
            var user = scratch.Users[0];
            into.BeginUser(userId, 0);
            // Snowflakes >= 2^63 sort first as signed bigints: emit them last so the order is unsigned.
            var states = scratch.StatesOf(user);
            int firstLow = 0;
            while (firstLow < states.Length && (long)states[firstLow].State.ChannelId < 0) firstLow++;
            for (int i = firstLow; i < states.Length; i++) Append(into, scratch, states[i]);
            for (int i = 0; i < firstLow; i++) Append(into, scratch, states[i]);
            into.RaiseVersion(user.Version);
        }
        finally
        {
            ReturnScratch(scratch);
        }
    }

    private static void Append(StateBatch into, StateBatch scratch, in StoredState s)
        => into.AddState(s.State, s.OverflowCount, s.OverflowMaxId, scratch.MentionsOf(s));

    private async Task ReadPartitionAsync(ulong userId, StateBatch scratch, CancellationToken cancellationToken)
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
                using var rows = await _session.ExecuteAsync(_select, values, options, cancellationToken).ConfigureAwait(false)
                    ?? throw new CqlException("SELECT returned no rows result.", isTransient: false);
                while (rows.MoveNext())
                {
                    long channel = rows.GetInt64(0);
                    if (channel == MetaChannelId)
                    {
                        scratch.RaiseVersion(unchecked((ulong)rows.GetInt64(9)));
                        continue;
                    }
                    var state = new ReadState
                    {
                        ChannelId = unchecked((ulong)channel),
                        LastMessageId = unchecked((ulong)rows.GetInt64(1)),
                        MentionCount = rows.GetInt32(2),
                        Type = (ReadStateType)rows.GetSByte(4),
                        ParentId = unchecked((ulong)rows.GetInt64(5)),
                        Flags = (ReadStateFlags)rows.GetInt32(6) & ReadState.PublicFlags,
                        LastPinTimestamp = rows.GetInt64(7),
                        LastViewed = rows.GetInt32(8),
                        Version = unchecked((ulong)rows.GetInt64(9)),
                        MentionBlock = -1,
                    };
                    int n = MentionIdsCodec.Decode(rows.GetBytes(3), out int overflowCount, out ulong overflowMaxId, ref ids);
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
        var lanes = new WriteLanes(this, batch, cancellationToken);
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
        await _session.DisposeAsync().ConfigureAwait(false);
        lock (_contexts)
        {
            while (_contexts.Count > 0) _contexts.Pop().Dispose();
        }
    }
}
