using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using ReadStates.Api;
using ReadStates.Core;

namespace ReadStates.Hosting;

/// <summary>
/// OpenTelemetry wiring: metrics exported in Prometheus text format on the metrics port, traces over OTLP
/// (off by default), and trace ids in log scopes.
/// </summary>
internal static class TelemetrySetup
{
    public const string ServiceName = "readstates";
    public const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel";
    private const string HealthPath = "/grpc.health.v1.Health/";

    public static void Add(IServiceCollection services, MetricsOptions? metrics, TracingOptions? tracing)
    {
        // Log lines written inside a request (or any span) carry its trace and span ids in their scope;
        // the console formatters print scopes with Logging:Console:FormatterOptions:IncludeScopes.
        services.Configure<LoggerFactoryOptions>(o =>
            o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId | ActivityTrackingOptions.ParentId);

        bool metricsOn = metrics is { Enabled: true };
        bool tracingOn = tracing is { Enabled: true };
        if (!metricsOn && !tracingOn) return;

        var otel = services.AddOpenTelemetry().ConfigureResource(r => r.AddService(ServiceName,
            serviceVersion: typeof(TelemetrySetup).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion,
            serviceInstanceId: Environment.MachineName));

        if (metricsOn)
        {
            services.AddSingleton<RpcMetrics>();
            services.AddSingleton<RpcMetricsInterceptor>();
            services.AddSingleton<RuntimeGauges>();
            // Our meters and Kestrel's are created through this app's IMeterFactory: enable them for this
            // app only (MeterScope.Local), so several services in one process (tests) never mix counts.
            services.AddMetrics(b => b
                .EnableMetrics(EngineMetrics.MeterName, null, null, MeterScope.Local)
                .EnableMetrics(RpcMetrics.MeterName, null, null, MeterScope.Local)
                .EnableMetrics(RuntimeGauges.MeterName, null, null, MeterScope.Local)
                .EnableMetrics(KestrelMeter, null, null, MeterScope.Local));
            otel.WithMetrics(m => m
                // .NET's own System.Runtime meter (GC, heap, JIT, thread pool, CPU time, working set): one
                // set of runtime and process metrics, with units.
                .AddRuntimeInstrumentation()
                .AddView(i => i.Meter.Name == "System.Runtime" && i.Name is RuntimeGauges.ThreadCount or RuntimeGauges.QueueLength
                    ? MetricStreamConfiguration.Drop : null)
                .AddPrometheusExporter(o =>
                {
                    o.ScrapeResponseCacheDurationMilliseconds = 0; // the engine caches its stats for 200 ms itself
                    o.ScopeInfoEnabled = false;                     // names are already namespaced; no otel_scope_* labels
                }));
        }

        if (tracingOn)
        {
            var t = tracing!;
            otel.WithTracing(b => b
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(t.SampleRatio)))
                .AddSource(EngineTracing.SourceName)
                // The RPC server span; grpc-dotnet tags it with grpc.method and grpc.status_code. Probes are left out.
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments(HealthPath.TrimEnd('/'), StringComparison.Ordinal))
                .AddOtlpExporter(o =>
                {
                    if (t.OtlpEndpoint.Length > 0) o.Endpoint = new Uri(t.OtlpEndpoint);
                    o.Protocol = t.IsHttpProtocol ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                }));
        }
    }

    /// <summary>Binds a section leniently (a bad value is reported by the configuration check before start).</summary>
    public static T? TryBind<T>(IConfiguration config, string section)
        where T : new()
    {
        var options = new T();
        try
        {
            config.GetSection(section).Bind(options);
            return options;
        }
        catch (InvalidOperationException)
        {
            return default;
        }
    }
}
