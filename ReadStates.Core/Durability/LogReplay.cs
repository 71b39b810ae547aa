using Microsoft.Extensions.Logging;
using ReadStates.Core.Storage;

namespace ReadStates.Core.Durability;

/// <summary>
/// Replays change-log segments into the store at start: every record is read (a torn or mis-summed tail
/// is skipped whole), the newest version of each (user, channel) wins, and a state is written only where
/// it is newer than what the store has (the store may already hold a later write than the log's last
/// synced record), with the user's version raised to the highest seen. Store errors are retried with
/// backoff until they pass or start-up is cancelled: serving before the log is in would hand out stale state.
/// </summary>
internal sealed class LogReplay(ILogDevice device, IReadStateStore store, EngineOptions options, ILogger logger, TimeProvider time)
{
    private const int ReadChunk = 1 << 20;

    private sealed class Entry(ReadState state, int overflow, ulong overflowMax, ulong[] ids)
    {
        public ReadState State = state;
        public int Overflow = overflow;
        public ulong OverflowMax = overflowMax;
        public ulong[] Ids = ids;
    }

    private sealed class ReplayUser
    {
        public ulong Version;
        public readonly Dictionary<ulong, Entry> States = [];
    }

    public readonly record struct Result(long Records, int Users, long StatesWritten, int TornTails);

    private readonly Dictionary<ulong, ReplayUser> _users = [];
    private long _records;
    private int _tornTails;

    public async Task<Result> RunAsync(IReadOnlyList<long> segments, CancellationToken ct)
    {
        foreach (long segment in segments) ReadSegment(segment);
        long written = await ApplyAsync(ct).ConfigureAwait(false);
        return new Result(_records, _users.Count, written, _tornTails);
    }

    // ---- reading -------------------------------------------------------------------------------

    private void ReadSegment(long segment)
    {
        using var reader = device.OpenRead(segment);
        var buffer = new byte[ReadChunk];
        int filled = Fill(reader, buffer, 0);
        if (filled < LogFormat.SegmentHeader)
        {
            // Created, then the process died before the header was synced: holds nothing.
            if (filled > 0) Torn(segment, 0, filled, "a partial segment header");
            return;
        }
        if (!LogFormat.IsSegmentHeader(buffer, out uint version) || version != LogFormat.FormatVersion)
            throw new ChangeLogFormatException($"Change-log segment {segment} in {device.Location} is not in a format this version reads (format {version}); move it away to start without it.");
        long offset = LogFormat.SegmentHeader;
        int start = LogFormat.SegmentHeader;
        var scratch = new StateBatch();
        var ids = new ulong[64];
        bool eof = filled < buffer.Length;
        while (true)
        {
            var status = LogFormat.TryFrame(buffer.AsSpan(start, filled - start), out int length, out var payload);
            if (status == LogFormat.ReadStatus.Record)
            {
                scratch.Clear();
                if (!LogFormat.TryDecode(payload, scratch, ref ids))
                {
                    Torn(segment, offset, filled - start, "a record that does not decode");
                    return;
                }
                Merge(scratch);
                _records++;
                start += length;
                offset += length;
                continue;
            }
            bool needMore = !eof && (status == LogFormat.ReadStatus.Truncated || (status == LogFormat.ReadStatus.End && filled - start < LogFormat.RecordHeader));
            if (needMore)
            {
                // The record continues past the buffer: keep its start, read more (growing for a large record).
                int kept = filled - start;
                if (start == 0) Array.Resize(ref buffer, buffer.Length * 2);
                else Buffer.BlockCopy(buffer, start, buffer, 0, kept);
                start = 0;
                int read = Fill(reader, buffer, kept);
                eof = read < buffer.Length;
                filled = read;
                continue;
            }
            bool garbage = HasNonZero(buffer.AsSpan(start, filled - start));
            long rest = filled - start + (eof ? 0 : Drain(reader, buffer));
            if (status == LogFormat.ReadStatus.Truncated) Torn(segment, offset, rest, "a record cut short");
            else if (status == LogFormat.ReadStatus.Corrupt) Torn(segment, offset, rest, "a record whose checksum does not match");
            else if (garbage) Torn(segment, offset, rest, "bytes after the last record");
            return;
        }
    }

    private static int Fill(ILogSegmentReader reader, byte[] buffer, int from)
    {
        int filled = from;
        while (filled < buffer.Length)
        {
            int n = reader.Read(buffer.AsSpan(filled));
            if (n == 0) break;
            filled += n;
        }
        return filled;
    }

    private static int Drain(ILogSegmentReader reader, byte[] buffer)
    {
        int total = 0;
        while (true)
        {
            int n = reader.Read(buffer);
            if (n == 0) return total;
            total += n;
        }
    }

    private static bool HasNonZero(ReadOnlySpan<byte> bytes) => bytes.IndexOfAnyExcept((byte)0) >= 0;

    private void Torn(long segment, long offset, long bytes, string what)
    {
        _tornTails++;
        EngineLog.ReplayTornTail(logger, segment, offset, bytes, what, device.Location);
    }

    private void Merge(StateBatch record)
    {
        var entry = record.Users[0];
        if (!_users.TryGetValue(entry.UserId, out var user)) _users[entry.UserId] = user = new ReplayUser();
        if (entry.Version > user.Version) user.Version = entry.Version;
        foreach (ref readonly var s in record.StatesOf(entry))
        {
            if (user.States.TryGetValue(s.State.ChannelId, out var held) && held.State.Version >= s.State.Version) continue;
            user.States[s.State.ChannelId] = new Entry(s.State, s.OverflowCount, s.OverflowMaxId, record.MentionsOf(s).ToArray());
        }
    }

    // ---- applying ------------------------------------------------------------------------------

    private async Task<long> ApplyAsync(CancellationToken ct)
    {
        long written = 0;
        var pending = new ulong[_users.Count];
        _users.Keys.CopyTo(pending, 0);
        var loaded = new StateBatch();
        var batch = new StateBatch();
        var storedVersions = new Dictionary<ulong, ulong>();
        for (int from = 0; from < pending.Length; from += options.FlushBatchUsers)
        {
            batch.Clear();
            int to = Math.Min(pending.Length, from + options.FlushBatchUsers);
            for (int i = from; i < to; i++)
            {
                ulong userId = pending[i];
                var user = _users[userId];
                loaded.Clear();
                await RetryAsync(() => store.LoadUserAsync(userId, loaded, ct), "load", ct).ConfigureAwait(false);
                storedVersions.Clear();
                ulong storedUser = 0;
                if (loaded.UserCount > 0)
                {
                    var stored = loaded.Users[0];
                    storedUser = stored.Version;
                    foreach (ref readonly var s in loaded.StatesOf(stored)) storedVersions[s.State.ChannelId] = s.State.Version;
                }
                int statesBefore = batch.StateCount;
                batch.BeginUser(userId, Math.Max(storedUser, user.Version));
                foreach (var (channel, e) in user.States)
                {
                    // Absent from the store: written unless the store's user version shows a later write (a delete) covered it.
                    ulong have = storedVersions.TryGetValue(channel, out ulong v) ? v : storedUser;
                    if (e.State.Version > have) batch.AddState(e.State, e.Overflow, e.OverflowMax, e.Ids);
                }
                written += batch.StateCount - statesBefore;
            }
            await RetryAsync(() => store.WriteAsync(batch, ct), "write", ct).ConfigureAwait(false);
        }
        return written;
    }

    private async Task RetryAsync(Func<Task> action, string what, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await action().ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(options.MaxRetryDelay.TotalMilliseconds, 25 * Math.Pow(2, Math.Min(attempt, 20))));
                EngineLog.ReplayStoreFailed(logger, what, attempt, (long)delay.TotalMilliseconds, ex);
                await Task.Delay(delay, time, ct).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>A change-log segment this version cannot read; the engine refuses to start rather than lose what it holds.</summary>
public sealed class ChangeLogFormatException(string message) : Exception(message);
