using System.Runtime;
using Grpc.Core;

namespace ReadStates.Api.Diagnostics;

/// <summary>
/// Internal counters for ReadStates.Bench, mapped only with <c>Service:BenchDiagnostics</c>: the server's own
/// allocation and GC counters (the bench reads them before and after N requests of one kind), and an empty
/// method whose cost is the floor of any unary call through this host.
/// </summary>
internal sealed class DiagnosticsService : Diagnostics.DiagnosticsBase
{
    private static readonly Task<EmptyMessage> s_empty = Task.FromResult(new EmptyMessage());

    [RequiresPermission(Permission.Read)]
    public override Task<EmptyMessage> Empty(EmptyMessage request, ServerCallContext context) => s_empty;

    [RequiresPermission(Permission.Read)]
    public override Task<CountersResponse> Counters(EmptyMessage request, ServerCallContext context)
    {
        ThreadPool.GetMinThreads(out int minWorkers, out _);
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        long maxPause = 0;
        foreach (var kind in (ReadOnlySpan<GCKind>)[GCKind.Ephemeral, GCKind.FullBlocking, GCKind.Background])
            foreach (var pause in GC.GetGCMemoryInfo(kind).PauseDurations)
                maxPause = Math.Max(maxPause, (long)pause.TotalMicroseconds);
        return Task.FromResult(new CountersResponse
        {
            AllocatedBytes = GC.GetTotalAllocatedBytes(precise: true),
            Gen0Collections = GC.CollectionCount(0),
            Gen1Collections = GC.CollectionCount(1),
            Gen2Collections = GC.CollectionCount(2),
            TotalPauseMicroseconds = (long)GC.GetTotalPauseDuration().TotalMicroseconds,
            ServerGc = GCSettings.IsServerGC,
            ConcurrentGc = AppContext.TryGetSwitch("System.GC.Concurrent", out bool concurrent) ? concurrent : true,
            Processors = Environment.ProcessorCount,
            ThreadPoolThreads = ThreadPool.ThreadCount,
            ThreadPoolMinWorkers = minWorkers,
            LatencyMode = GCSettings.LatencyMode.ToString(),
            HeapBytes = info.HeapSizeBytes,
            MaxPauseMicroseconds = maxPause,
        });
    }
}
