using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using ReadStates.Hosting;
using static ReadStates.Api.V1.ReadStates;

namespace ReadStates.Tests.Integration;

/// <summary>
/// The real service, in process: Kestrel on a loopback port chosen by the OS, RocksDB in a directory
/// of the test's, reached through the generated client over h2c.
/// </summary>
internal sealed class RunningService : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private RunningService(WebApplication app, GrpcChannel channel, string address)
    {
        _app = app;
        Channel = channel;
        Address = address;
        Client = new ReadStatesClient(channel);
    }

    public GrpcChannel Channel { get; }
    public ReadStatesClient Client { get; }
    public string Address { get; }
    public IServiceProvider Services => _app.Services;

    /// <param name="settings">Extra settings as <c>Section:Key=value</c>.</param>
    public static Task<RunningService> StartAsync(string dataDir, params string[] settings) => StartAsync(dataDir, null, settings);

    /// <param name="configure">Runs on the builder after the production wiring (e.g. to wrap the store).</param>
    public static Task<RunningService> StartAsync(string dataDir, Action<WebApplicationBuilder>? configure, params string[] settings) =>
        StartAsync(dataDir, configure, null, null, settings);

    /// <param name="map">Runs on the built application before it starts (e.g. to map a test-only service).</param>
    /// <param name="channel">Makes the client channel for the address (e.g. with TLS options); plain h2c when null.</param>
    public static async Task<RunningService> StartAsync(string dataDir, Action<WebApplicationBuilder>? configure, Action<WebApplication>? map,
        Func<string, GrpcChannel>? channel, params string[] settings)
    {
        var args = new List<string>
        {
            "--urls=http://127.0.0.1:0",
            $"--Storage:RocksDb:Path={dataDir}",
            "--Storage:RocksDb:BlockCacheMb=8",
            "--Engine:CapacityStates=65536",
            "--Engine:Shards=4",
            "--Logging:LogLevel:Default=Warning",
            "--Metrics:Enabled=false", // tests run many services at once; MetricsTests turns it on
        };
        args.AddRange(settings.Select(s => "--" + s));
        var app = ReadStatesHost.Build([.. args], configure);
        Assert.Empty(ReadStatesHost.CheckConfiguration(app.Services));
        map?.Invoke(app);
        using var startTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await app.StartAsync(startTimeout.Token);
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Assert.Matches("^https?://127.0.0.1:", address);
        return new RunningService(app, channel?.Invoke(address) ?? GrpcChannel.ForAddress(address), address);
    }

    /// <summary>A graceful stop, as on SIGTERM: Kestrel drains, then the engine flushes and the store closes.</summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        Channel.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _app.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>A temporary data directory, deleted with the test.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "readstates-it-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
