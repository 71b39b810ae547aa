using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace ReadStates.Hosting;

/// <summary>
/// <c>/metrics</c> (OpenTelemetry's Prometheus exporter, text format) on a small HTTP/1.1 server of its own:
/// the gRPC port speaks only h2c, which scrapers do not. Started inside host start-up, so a port that
/// is taken fails the start with a clear message and a non-zero exit instead of stopping the service later.
/// </summary>
internal sealed class MetricsEndpoint(MetricsOptions options, MeterProvider meterProvider, RuntimeGauges runtimeGauges, ILogger<MetricsEndpoint> logger, Auth.MetricsGate? gate = null) : IHostedService, IAsyncDisposable
{
    public const string Path = "/metrics";
    private WebApplication? _app;

    public string Url => $"http://{(options.Host.Contains(':', StringComparison.Ordinal) ? $"[{options.Host}]" : options.Host)}:{options.Port}";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        GC.KeepAlive(runtimeGauges); // resolved with the endpoint so its instruments exist before the first scrape
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        // None of the service's settings (h2c endpoint defaults, URLs) apply here.
        ((IConfigurationBuilder)builder.Configuration).Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(Url);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http1);
        });
        gate?.AddServices(builder.Services);
        var app = builder.Build();
        if (gate is not null) app.Use(gate.InvokeAsync);
        // The service's own meter provider (its instruments, its exporter), served from this small app.
        app.UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider, predicate: null, path: Path, configureBranchedPipeline: null, optionsName: null);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"Metrics endpoint {Url}{Path}: {ex.Message} (set Metrics:Port, or Metrics:Enabled=false)", ex);
        }
        _app = app;
        HostLog.MetricsListening(logger, Url + Path);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app) await app.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _app, null) is { } app) await app.DisposeAsync().ConfigureAwait(false);
    }
}
