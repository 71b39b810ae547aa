using System.Runtime.CompilerServices;
using ReadStates.Core;
using ReadStates.Cql;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.Scylla;

public sealed partial class ScyllaStore
{
    /// <summary>Reusable per-lane buffers: after warm-up, encoding a user's batch allocates nothing.</summary>
    private sealed class WriteContext : IDisposable
    {
        public CqlBatch Batch { get; } = new() { Type = CqlBatchType.Unlogged };
        public CqlValues Values { get; } = new(512);
        public HashSet<ulong> Seen { get; } = [];
        public byte[] Blob = new byte[256];

        public void Dispose()
        {
            Batch.Dispose();
            Values.Dispose();
        }
    }

    /// <summary>Up to WriteConcurrency lanes, each taking the next user of the batch until none is left or one fails.</summary>
    private sealed class WriteLanes(ScyllaStore store, Connected connected, StateBatch batch, CancellationToken cancellationToken)
    {
        private int _next = -1;
        private volatile bool _failed;

        public async Task RunLaneAsync()
        {
            var context = store.RentContext();
            try
            {
                while (!_failed)
                {
                    int index = Interlocked.Increment(ref _next);
                    if (index >= batch.UserCount) return;
                    try
                    {
                        await store.WriteUserAsync(connected, batch, index, context, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        _failed = true;
                        throw;
                    }
                }
            }
            finally
            {
                store.ReturnContext(context);
            }
        }
    }

    /// <summary>
    /// Writes one user as one unlogged batch on its partition (several when it has more than
    /// MaxStatementsPerBatch states), all with one client timestamp: a retry rewrites the same cells
    /// with the same time, so it is idempotent, and a later flush always wins.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteUserAsync(Connected connected, StateBatch batch, int userIndex, WriteContext context, CancellationToken cancellationToken)
    {
        var options = CqlRequestOptions.Default(_options.Consistency);
        options.Idempotent = true;
        options.Timestamp = connected.Session.Clock.Next();
        context.Seen.Clear();
        int cursor = batch.Users[userIndex].StateCount - 1;
        bool done;
        do
        {
            done = Fill(connected, batch, userIndex, context, ref cursor);
            await connected.Session.BatchAsync(context.Batch, options, cancellationToken).ConfigureAwait(false);
        }
        while (!done);
    }

    /// <summary>
    /// Fills the context's batch walking the user's states from the last: a channel that appears twice
    /// keeps its last version (in one batch both would share a timestamp and the server would pick by value).
    /// Returns true when the user is complete (the meta row is in this batch).
    /// </summary>
    private bool Fill(Connected connected, StateBatch batch, int userIndex, WriteContext context, ref int cursor)
    {
        var b = context.Batch;
        var values = context.Values;
        b.Clear();
        ref readonly var user = ref batch.Users[userIndex];
        var states = batch.StatesOf(user);
        long userId = unchecked((long)user.UserId);
        int room = _options.MaxStatementsPerBatch - 1; // keep a slot for the meta row
        // Bounded by bytes too: ScyllaDB warns above 128 KiB per batch and rejects above 1 MiB by default.
        for (; cursor >= 0 && b.Count < room && (b.Count == 0 || b.EncodedBytes < _options.MaxBatchBytes); cursor--)
        {
            ref readonly var stored = ref states[cursor];
            ref readonly var s = ref stored.State;
            if (!context.Seen.Add(s.ChannelId)) continue;
            values.Clear();
            values.AddBigint(userId);
            values.AddBigint(unchecked((long)s.ChannelId));
            if (stored.IsDeleted && s.Version <= user.SyncFloor)
            {
                b.Add(connected.Delete, values); // compacted: the row goes
                continue;
            }
            var mentions = batch.MentionsOf(stored);
            int max = MentionIdsCodec.MaxSize(mentions.Length);
            if (context.Blob.Length < max) context.Blob = new byte[Math.Max(max, context.Blob.Length * 2)];
            int blobLength = MentionIdsCodec.Encode(stored.OverflowCount, stored.OverflowMaxId, mentions, context.Blob);
            values.AddBigint(unchecked((long)s.LastMessageId));
            values.AddInt(s.MentionCount);
            values.AddBlob(context.Blob.AsSpan(0, blobLength));
            values.AddTinyint((sbyte)s.Type);
            values.AddBigint(unchecked((long)s.ParentId));
            // A tombstone is the same upsert: zeros, the tombstone flag, the deletion time in the pin column.
            values.AddInt((int)(s.Flags & ReadState.PublicFlags) | (stored.IsDeleted ? ScyllaSchema.TombstoneFlag : 0));
            values.AddTimestamp(s.LastPinTimestamp);
            values.AddInt(s.LastViewed);
            values.AddBigint(unchecked((long)s.Version));
            values.AddUnset(); // sync_floor: the meta row's only
            b.Add(connected.Upsert, values);
        }
        if (cursor >= 0) return false;

        // The meta row: only version and sync floor are meant to change; every other column is unset (no tombstones, no overwrite).
        values.Clear();
        values.AddBigint(userId);
        values.AddBigint(MetaChannelId);
        for (int i = 0; i < 8; i++) values.AddUnset();
        values.AddBigint(unchecked((long)user.Version));
        values.AddBigint(unchecked((long)user.SyncFloor));
        b.Add(connected.Upsert, values);
        return true;
    }
}
