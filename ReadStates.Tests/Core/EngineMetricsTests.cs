using System.Diagnostics.Metrics;
using ReadStates.Core;

namespace ReadStates.Tests.Core;

public sealed class EngineMetricsTests
{
    [Fact]
    public async Task Instruments_ReportTheEnginesState()
    {
        var store = new MemoryStore();
        await using var engine = EngineTestKit.Create(store);
        using var metrics = new EngineMetrics(engine);
        for (ulong u = 1; u <= 5; u++) await engine.Ack(u, 10, 1);
        await engine.Ack(5, 11, 1);

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, metrics.Meter)) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<int>((i, v, _, _) => seen[i.Name] = v);
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => seen[i.Name] = v);
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(5, seen["readstates.cache.resident_users"]);
        Assert.Equal(6, seen["readstates.cache.resident_states"]);
        Assert.Equal(5, seen["readstates.cache.loads"]);
        Assert.Equal(5, seen["readstates.writebehind.queued_users"]);
        Assert.Equal(1, seen["readstates.store.healthy"]);
        Assert.True(seen["readstates.cache.arena.size"] > 0);
    }
}
