using System.Diagnostics;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using OpenTelemetry.Trace;
using ReadStates.Api.V1;
using ReadStates.Core;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>
/// Traces through the real service: a call on a user not in memory makes the chain RPC server span →
/// engine.miss → store.load under the caller's trace; a call on a resident user makes no engine span.
/// And log lines written inside a call carry its trace id.
/// </summary>
public sealed class TracingTests
{
    /// <summary>
    /// Spans from every service in this test process reach the exporter (activity listeners are
    /// process-wide), from many threads: collect them under a lock and filter by trace id.
    /// </summary>
    private sealed class LockedCollection : System.Collections.ObjectModel.Collection<Activity>
    {
        protected override void InsertItem(int index, Activity item)
        {
            lock (this) base.InsertItem(index, item);
        }

        public List<Activity> Of(ActivityTraceId traceId)
        {
            lock (this) return [.. this.Where(a => a.TraceId == traceId)];
        }
    }

    private static (ActivityTraceId TraceId, ActivitySpanId Parent, Metadata Headers) NewTrace()
    {
        var traceId = ActivityTraceId.CreateRandom();
        var parent = ActivitySpanId.CreateRandom();
        return (traceId, parent, new Metadata { { "traceparent", $"00-{traceId}-{parent}-01" } });
    }

    private static async Task<List<Activity>> SpansAsync(LockedCollection exported, ActivityTraceId traceId, Func<List<Activity>, bool> complete)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var spans = exported.Of(traceId);
            if (complete(spans)) return spans;
            Assert.True(DateTime.UtcNow < deadline, $"spans of trace {traceId} never arrived; got {string.Join(", ", spans.Select(s => s.DisplayName))}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Miss_IsTracedAsRpcThenEngineMissThenStoreLoad_AndAResidentCallMakesNoEngineSpan()
    {
        using var dir = new TempDir();
        var exported = new LockedCollection();
        // OTLP goes to a closed loopback port (exports fail quietly in the background); the test reads the in-memory copy.
        await using var service = await RunningService.StartAsync(dir.Path,
            b => b.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(exported)),
            "Tracing:Enabled=true", "Tracing:OtlpEndpoint=http://127.0.0.1:9");

        var miss = NewTrace();
        await service.Client.AckAsync(new AckRequest { UserId = 77, ChannelId = 1, MessageId = 5 }, miss.Headers);
        var spans = await SpansAsync(exported, miss.TraceId, s => s.Count >= 3);

        var server = Assert.Single(spans, s => s.Kind == ActivityKind.Server);
        Assert.Equal(miss.Parent, server.ParentSpanId); // the caller's trace continues
        Assert.Contains("readstates.v1.ReadStates/Ack", server.DisplayName + " " + server.GetTagItem("url.path"), StringComparison.Ordinal);
        var engine = Assert.Single(spans, s => s.Source.Name == EngineTracing.SourceName && s.OperationName == "engine.miss");
        Assert.Equal(server.SpanId, engine.ParentSpanId);
        Assert.Equal(77UL, engine.GetTagItem("readstates.user_id"));
        var load = Assert.Single(spans, s => s.Source.Name == EngineTracing.SourceName && s.OperationName == "store.load");
        Assert.Equal(engine.SpanId, load.ParentSpanId);
        Assert.Equal(ActivityKind.Client, load.Kind);
        Assert.Equal("rocksdb", load.GetTagItem("readstates.store"));
        Assert.True(load.Duration <= engine.Duration && engine.Duration <= server.Duration);

        var hit = NewTrace();
        await service.Client.AckAsync(new AckRequest { UserId = 77, ChannelId = 1, MessageId = 6 }, hit.Headers);
        var hitSpans = await SpansAsync(exported, hit.TraceId, s => s.Any(a => a.Kind == ActivityKind.Server));
        Assert.DoesNotContain(hitSpans, s => s.Source.Name == EngineTracing.SourceName);
    }

    [Fact]
    public async Task LogLinesInsideACall_CarryItsTraceId_InJson()
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path,
            ["--urls=http://127.0.0.1:0", "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Information"],
            ("Logging__Console__FormatterName", "json"));
        string address = await child.Output.WaitForListeningAddressAsync(TimeSpan.FromSeconds(60));
        var call = NewTrace();
        using (var channel = GrpcChannel.ForAddress(address))
            await new ReadStatesClient(channel).AckAsync(new AckRequest { UserId = 1, ChannelId = 1, MessageId = 1 }, call.Headers);
        child.Terminate();
        Assert.Equal(0, await child.ExitCodeAsync(60));

        var traced = child.Output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.TryGetProperty("Scopes", out var scopes) && scopes.EnumerateArray()
                .Any(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("TraceId", out var id) && id.GetString() == call.TraceId.ToString()))
            .ToList();
        Assert.NotEmpty(traced);
        Assert.All(traced, e => Assert.Equal("Microsoft.AspNetCore.Hosting.Diagnostics", e.GetProperty("Category").GetString()));
    }
}
