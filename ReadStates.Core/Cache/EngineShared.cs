using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using ReadStates.Core.Storage;

namespace ReadStates.Core.Cache;

/// <summary>What every shard shares: frozen settings, the store, and engine-wide counters.</summary>
internal sealed class EngineShared(EngineOptions options, IReadStateStore store, ILogger logger)
{
    public EngineOptions Options { get; } = options;
    public IReadStateStore Store { get; } = store;
    public ILogger Logger { get; } = logger;

    private PaddedLong _backlog;
    private volatile bool _storeHealthy = true;

    /// <summary>Capacity units held by evicted dirty users waiting for the store.</summary>
    public long Backlog => Volatile.Read(ref _backlog.Value);
    public void AddBacklog(long delta) => Interlocked.Add(ref _backlog.Value, delta);

    public bool StoreHealthy
    {
        get => _storeHealthy;
        set => _storeHealthy = value;
    }

    /// <summary>The engine's clock: tombstones record when they were deleted, compaction compares with it.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Now, in unix milliseconds.</summary>
    public long NowMs() => Time.GetUtcNow().ToUnixTimeMilliseconds();

    public long RetentionMs => (long)Options.TombstoneRetention.TotalMilliseconds;

    /// <summary>Set by the engine: wakes write-behind early when the backlog grows.</summary>
    public Action? WakeFlusher { get; set; }
}

/// <summary>A counter on its own cache line, so threads bumping it don't slow their neighbours.</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedLong
{
    [FieldOffset(64)] public long Value;
}
