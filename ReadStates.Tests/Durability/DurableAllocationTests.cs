using ReadStates.Core;
using ReadStates.Core.Durability;
using ReadStates.Tests.Core;
using ReadStates.Tests.Cql;

namespace ReadStates.Tests.Durability;

/// <summary>
/// What durable mode allocates per call on a resident user: the waiter is pooled, completion is a
/// thread-pool work item (no closure), the log buffers are reused. Measured over every thread (the log
/// writer and the pool threads run continuations), averaged, so a rare runtime allocation does not fail it.
/// </summary>
[Collection(CqlSerialCollection.Name)] // a process-wide measurement: nothing else may run meanwhile
public sealed class DurableAllocationTests
{
    /// <summary>Accepts and "syncs" everything instantly, keeping nothing: the engine's own allocations only.</summary>
    private sealed class DiscardingDevice : ILogDevice
    {
        public string Location => "discard";
        public IReadOnlyList<long> Segments() => [];
        public ILogSegmentReader OpenRead(long segment) => throw new NotSupportedException();
        public void StartSegment(long segment) { }
        public void Append(ReadOnlySpan<byte> bytes) { }
        public void Sync() { }
        public void Delete(long segment) { }
        public void Dispose() { }
    }

    [Fact]
    public async Task DurableAck_AllocatesAlmostNothing_PerCall()
    {
        var options = DurableModeTests.Durable();
        await using var engine = new ReadStateEngine(options, new MemoryStore(), logDevice: new DiscardingDevice());
        await engine.StartAsync();
        for (ulong u = 1; u <= 16; u++) await engine.Ack(u, 1, 1);

        async Task RunAsync(int calls, ulong from)
        {
            for (int i = 0; i < calls; i++)
            {
                ulong m = from + (ulong)i;
                await engine.AckAsync(1 + m % 16, new AckCommand { ChannelId = 1 + m % 4, MessageId = m });
            }
        }

        await RunAsync(20_000, 10); // warm up: JIT tiers, pools, list capacities
        const int calls = 20_000;
        double best = double.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await RunAsync(calls, 100_000 + (ulong)round * calls);
            best = Math.Min(best, (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)calls);
        }
        // One async state machine per RunAsync and the thread pool's queue segments, shared by 20,000 calls.
        Assert.True(best < 8, $"{best:F1} bytes per durable call");
    }
}
