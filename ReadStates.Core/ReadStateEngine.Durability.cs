using System.Diagnostics;
using ReadStates.Core.Durability;

namespace ReadStates.Core;

/// <summary>
/// The change log: group commit in durable mode, replay at start, and the spill of what a failing store
/// could not take at shutdown (deferred mode). See docs/engine.md, "Durability".
/// </summary>
public sealed partial class ReadStateEngine
{
    private const int SpillChunkBytes = 1 << 20;

    private readonly ILogDevice? _logDevice;
    private readonly ChangeLog? _changeLog;
    private long _nextSegment = 1;
    /// <summary>With a change log, writes wait for <see cref="StartAsync"/>: the log must be replayed first.</summary>
    private volatile bool _refusing;

    private (ILogDevice?, ChangeLog?) InitDurability(ILogDevice? device)
    {
        if (Options.Durability == DurabilityMode.Durable && device is null)
            throw new ArgumentException("Durable mode needs a change log device.", nameof(device));
        if (device is null) return (null, null);
        _refusing = true;
        if (Options.Durability != DurabilityMode.Durable) return (device, null);
        var log = new ChangeLog(device, _shards.Length, Options.GroupCommitWindow, _shared.Logger);
        for (int i = 0; i < _shards.Length; i++) _shards[i].AttachLog(log.ShardLog(i));
        log.RelogAll = () =>
        {
            foreach (var shard in _shards) shard.RelogDirty(null);
            ChangeLog.TakeTicket();
        };
        log.HealthChanged = healthy => _refusing = !healthy;
        return (device, log);
    }

    private void ThrowIfLogRefuses()
    {
        if (!_refusing) return;
        if (_loop is null) throw new InvalidOperationException("Start the engine (which replays the change log) before calling it.");
        throw new BackpressureException(true, $"The change log at {_logDevice!.Location} is failing; changes cannot be made durable.");
    }

    /// <summary>
    /// Replays the change log into the store (if there is one), then starts write-behind. Call before
    /// serving: until then a user loaded from the store could miss changes the log holds.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_loop is not null) throw new InvalidOperationException("The engine is already started.");
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_logDevice is not null)
        {
            var existing = _logDevice.Segments();
            if (existing.Count > 0)
            {
                var watch = Stopwatch.StartNew();
                var replay = new LogReplay(_logDevice, _shared.Store, Options, _shared.Logger, _time);
                var result = await replay.RunAsync(existing, cancellationToken).ConfigureAwait(false);
                // Only now that the store holds every change the segments carry.
                foreach (long segment in existing) _logDevice.Delete(segment);
                EngineLog.Replayed(_shared.Logger, existing.Count, result.Records, result.Users, result.StatesWritten, result.TornTails, watch.ElapsedMilliseconds, _logDevice.Location);
                _nextSegment = existing[^1] + 1;
            }
            _changeLog?.Open(_nextSegment);
            EngineLog.LogOpened(_shared.Logger, Options.Durability.ToString(), _logDevice.Location, Options.GroupCommitWindow);
        }
        EngineLog.Started(_shared.Logger, _shards.Length, Options.CapacityStates, Options.FlushInterval);
        Interlocked.Exchange(ref _lastCompletedPass, _time.GetTimestamp());
        _loop = StartWriteBehindThread();
        _refusing = false;
    }

    /// <summary>Starts the engine (replaying a change log, if any, synchronously).</summary>
    public void Start() => StartAsync().GetAwaiter().GetResult();

    /// <summary>Distinct users with changes the store does not have, and the states those changes are.</summary>
    private (int Users, long States) CountDirty()
    {
        int users = 0;
        long states = 0;
        foreach (var shard in _shards)
        {
            var (u, s) = shard.CountDirty();
            users += u;
            states += s;
        }
        return (users, states);
    }

    /// <summary>
    /// After a final flush that could not write everything: durable mode keeps the log (it already holds
    /// every acknowledged change); otherwise the unwritten changes go to a new log segment, replayed at the
    /// next start. Says exactly what was kept, or lost and why.
    /// </summary>
    private void KeepOrReportUnwritten(int users, long states, string why)
    {
        if (_changeLog is { Healthy: true })
        {
            EngineLog.KeptInLog(_shared.Logger, users, states, _changeLog.Location, why);
            return;
        }
        if (_logDevice is null)
        {
            EngineLog.ChangesLost(_shared.Logger, users, states, why + "; no change log is configured to keep them");
            return;
        }
        try
        {
            long segment = Math.Max(_nextSegment, NextSegmentAfterLive());
            _logDevice.StartSegment(segment);
            var buffer = new LogBuffer(SpillChunkBytes);
            var header = new byte[LogFormat.SegmentHeader];
            LogFormat.WriteSegmentHeader(header, segment);
            _logDevice.Append(header);
            int spilledUsers = 0;
            long spilledStates = 0;
            foreach (var shard in _shards)
            {
                var (u, s) = shard.RelogDirty(buffer);
                spilledUsers += u;
                spilledStates += s;
                if (buffer.Length < SpillChunkBytes) continue;
                _logDevice.Append(buffer.Written);
                buffer.Clear();
            }
            _logDevice.Append(buffer.Written);
            _logDevice.Sync();
            EngineLog.Spilled(_shared.Logger, spilledUsers, spilledStates, _logDevice.Location, why);
        }
        catch (Exception ex)
        {
            EngineLog.ChangesLost(_shared.Logger, users, states, $"{why}; writing them to the change log at {_logDevice.Location} failed too: {ex.Message}");
        }
    }

    private long NextSegmentAfterLive()
    {
        var live = _changeLog?.LiveSegments();
        return live is { Count: > 0 } ? live[^1] + 1 : _nextSegment;
    }
}
