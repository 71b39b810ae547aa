using System.Diagnostics;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using ReadStates.Api;
using ReadStates.Core;

namespace ReadStates.Bench.Micro;

/// <summary>
/// What call metrics add to every RPC: the interceptor's two timestamps and one histogram record by
/// method and status (RpcMetrics.Record), with OpenTelemetry's SDK aggregating as in the service, next
/// to the same record with no listener and to the timestamps alone. Plus the engine's per-shard hit
/// counter, which the resident hot path pays on every operation.
/// </summary>
[MemoryDiagnoser]
public class RpcMetricsRecord
{
    private const int Ops = 1024;
    private const string Method = "/readstates.v1.ReadStates/Ack";
    private ServiceProvider _services = null!;
    private RpcMetrics _listened = null!;
    private RpcMetrics _unlistened = null!;
    private MeterProvider _provider = null!;

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = _services.GetRequiredService<IMeterFactory>();
        _listened = new RpcMetrics(factory);
        _provider = Sdk.CreateMeterProviderBuilder().AddMeter(RpcMetrics.MeterName).AddPrometheusExporter().Build();
        _unlistened = new RpcMetrics(new UnlistenedFactory());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _provider.Dispose();
        _listened.Dispose();
        _unlistened.Dispose();
        _services.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public TimeSpan Timestamps()
    {
        TimeSpan total = default;
        for (int i = 0; i < Ops; i++)
        {
            long start = Stopwatch.GetTimestamp();
            total += Stopwatch.GetElapsedTime(start);
        }
        return total;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public void RecordNoListener()
    {
        for (int i = 0; i < Ops; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _unlistened.Record(Method, StatusCode.OK, Stopwatch.GetElapsedTime(start));
        }
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public void RecordOpenTelemetry()
    {
        for (int i = 0; i < Ops; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _listened.Record(Method, (i & 63) == 0 ? StatusCode.InvalidArgument : StatusCode.OK, Stopwatch.GetElapsedTime(start));
        }
    }

    /// <summary>A meter factory whose meters nothing listens to (names no meter the provider adds).</summary>
    private sealed class UnlistenedFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(new MeterOptions("unlistened." + options.Name) { Scope = this });
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var m in _meters) m.Dispose();
        }
    }
}
