using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;
using System.Diagnostics.Metrics;
using System.Globalization;
using ReadStates.Api;
using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;
using ReadStates.Storage.Scylla;

namespace ReadStates.Hosting;

/// <summary>Builds and runs the service: configuration, DI wiring, Kestrel (h2c), gRPC endpoints.</summary>
public static class ReadStatesHost
{
    /// <summary>Where the service listens when no <c>Urls</c>, <c>ASPNETCORE_URLS</c> or Kestrel endpoint is configured.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5000";

    /// <summary>Environment variables with this prefix override settings: <c>ReadStates__Engine__CapacityStates=…</c>.</summary>
    public const string EnvironmentPrefix = "ReadStates__";

    public const int ExitInvalidConfiguration = 2;
    public const int ExitStartFailed = 1;

    // prometheus-net's adapter is process-wide: configure it once, even when tests build several apps.
    private static int s_meterAdapterConfigured;

    /// <summary>
    /// Builds the application. <paramref name="configure"/> runs last, before the app is built
    /// (tests use it to point the store at a temp directory and listen on port 0).
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json beside the binary, whatever the working directory (relative data paths stay relative to it).
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        AddPrefixedEnvironment(builder.Configuration);
        ConfigureKestrel(builder);
        AddServices(builder.Services, builder.Configuration);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapGrpcService<ReadStatesService>();
        // Read leniently: a bad value is reported with every other problem by the configuration check.
        if (bool.TryParse(app.Configuration["Service:BenchDiagnostics"], out bool diagnostics) && diagnostics)
            app.MapGrpcService<Api.Diagnostics.DiagnosticsService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }

    /// <summary>Runs until SIGTERM / Ctrl+C; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or OptionsValidationException)
        {
            return Fail(ExitInvalidConfiguration, "invalid configuration", ex.Message);
        }
        catch (Exception ex)
        {
            return Fail(ExitStartFailed, "failed to start", Describe(ex));
        }

        await using (app.ConfigureAwait(false))
        {
            var problems = CheckConfiguration(app.Services);
            if (problems.Count > 0)
                return Fail(ExitInvalidConfiguration, "invalid configuration", string.Join(Environment.NewLine + "  ", problems));
            try
            {
                await app.StartAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                return Fail(ExitStartFailed, "failed to start", Describe(ex));
            }
            // Returns once SIGTERM / Ctrl+C has stopped the host, final flush included.
            await app.WaitForShutdownAsync().ConfigureAwait(false);
        }
        return 0;
    }

    /// <summary>Every problem with the settings (bad values, wrong types, unknown keys), all at once; empty when valid.</summary>
    public static IReadOnlyList<string> CheckConfiguration(IServiceProvider services)
    {
        var problems = new List<string>();
        Collect<EngineOptions>(services, problems);
        Collect<ServiceOptions>(services, problems);
        Collect<StorageOptions>(services, problems);
        Collect<MetricsOptions>(services, problems);
        Collect<ScyllaOptions>(services, problems);
        return problems;
    }

    private static void Collect<TOptions>(IServiceProvider services, List<string> problems)
        where TOptions : class
    {
        try
        {
            _ = services.GetRequiredService<IOptions<TOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            problems.AddRange(ex.Failures);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's own message: a value of the wrong type, or a key no setting has.
            problems.Add(ex.Message);
        }
    }

    private static string Describe(Exception ex)
    {
        // The outermost message names the resource (address, path); wrappers that add nothing are skipped.
        while (ex.InnerException is { } inner && ex is AggregateException or System.Reflection.TargetInvocationException)
            ex = inner;
        return ex.Message;
    }

    private static int Fail(int code, string what, string detail)
    {
        Console.Error.WriteLine($"ReadStates {what}:{Environment.NewLine}  {detail}");
        return code;
    }

    private static void AddPrefixedEnvironment(ConfigurationManager configuration)
    {
        // After the JSON files and plain environment variables, before the command line: the command line still wins.
        var sources = ((IConfigurationBuilder)configuration).Sources;
        int commandLine = -1;
        for (int i = 0; i < sources.Count; i++)
            if (sources[i] is CommandLineConfigurationSource) commandLine = i;
        var prefixed = new Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationSource { Prefix = EnvironmentPrefix };
        if (commandLine < 0) sources.Add(prefixed);
        else sources.Insert(commandLine, prefixed);
    }

    private static void ConfigureKestrel(WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        bool hasEndpoints = !string.IsNullOrEmpty(config[WebHostDefaults.ServerUrlsKey])
            || !string.IsNullOrEmpty(config[WebHostDefaults.HttpPortsKey])
            || !string.IsNullOrEmpty(config[WebHostDefaults.HttpsPortsKey])
            || config.GetSection("Kestrel:Endpoints").Exists();
        if (!hasEndpoints) builder.WebHost.UseUrls(DefaultUrl);

        // gRPC without TLS needs HTTP/2 with prior knowledge (h2c), so HTTP/2 only unless configured otherwise.
        var protocols = config.GetValue("Kestrel:EndpointDefaults:Protocols", HttpProtocols.Http2);
        // Read leniently: a bad value is reported with every other problem by the configuration check.
        if (bool.TryParse(config["Service:InlineScheduling"], out bool inline) && inline)
            builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = true);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.ConfigureEndpointDefaults(listen => listen.Protocols = protocols);
        });
    }

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        Bind<EngineOptions>(services, config, "Engine", o => o.Validate());
        Bind<ServiceOptions>(services, config, "Service", o => o.Validate());
        Bind<StorageOptions>(services, config, "Storage", o => o.Validate());
        Bind<MetricsOptions>(services, config, "Metrics", o => o.Validate());
        // Checked only when it is the store in use: a rocksdb deployment need not care about it.
        bool scylla = StorageOptions.IsKind(config["Storage:Kind"], StorageOptions.ScyllaKind);
        Bind<ScyllaOptions>(services, config, "Scylla", o => scylla ? o.Validate() : []);
        // The binder appends configured array items to the default ones; contact points must replace them.
        services.PostConfigure<ScyllaOptions>(o =>
        {
            var points = config.GetSection("Scylla:ContactPoints");
            if (points.Exists()) o.ContactPoints = points.Get<string[]>() ?? [];
        });

        // The host must outwait the engine's final flush, or SIGTERM could exit with changes unwritten.
        // Read leniently: a bad value is reported by the configuration check, not here.
        var flushTimeout = TimeSpan.TryParse(config["Engine:ShutdownFlushTimeout"], CultureInfo.InvariantCulture, out var t) && t > TimeSpan.Zero
            ? t : new EngineOptions().ShutdownFlushTimeout;
        services.Configure<HostOptions>(o => o.ShutdownTimeout = flushTimeout + TimeSpan.FromSeconds(15));

        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ServiceOptions>>().Value.ToLimits());
        services.AddSingleton(CreateStore);
        services.AddSingleton(sp => new ReadStateEngine(
            sp.GetRequiredService<IOptions<EngineOptions>>().Value,
            sp.GetRequiredService<IReadStateStore>(),
            sp.GetRequiredService<ILogger<ReadStateEngine>>()));
        services.AddSingleton(sp => new EngineMetrics(sp.GetRequiredService<ReadStateEngine>(), sp.GetRequiredService<IMeterFactory>()));
        // Registered before the web server's own hosted service: starts first, stops after Kestrel has drained.
        services.AddHostedService<EngineHostedService>();

        AddMetricsEndpoint(services, config);

        // The service and its interceptor hold no per-call state: one instance each, rather than one
        // activated (and its logger resolved) for every call, which is grpc-dotnet's default.
        services.AddSingleton<ReadStatesService>();
        services.AddSingleton<EngineErrorInterceptor>();
        services.AddSingleton<Api.Streaming.StreamErrors>();
        services.AddSingleton<Api.Diagnostics.DiagnosticsService>();
        services.AddGrpc(o => o.Interceptors.Add<EngineErrorInterceptor>());
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks(o =>
        {
            o.Services.Map("", _ => true);
            o.Services.Map("readstates.v1.ReadStates", _ => true);
        }).AddCheck<StoreHealthCheck>("store");
    }

    private static void AddMetricsEndpoint(IServiceCollection services, IConfiguration config)
    {
        var metrics = new MetricsOptions();
        try
        {
            config.GetSection("Metrics").Bind(metrics);
        }
        catch (InvalidOperationException)
        {
            return; // reported by the configuration check before start
        }
        if (!metrics.Enabled || metrics.Validate().Count > 0) return;
        // The engine's instruments (meter "ReadStates") through the bridge, every other meter (process,
        // runtime, ASP.NET Core) through prometheus-net's adapter.
        if (Interlocked.Exchange(ref s_meterAdapterConfigured, 1) == 0)
            Metrics.ConfigureMeterAdapter(o => o.InstrumentFilterPredicate = i =>
                !PrometheusMeterBridge.IsBridged(i, EngineMetrics.MeterName)
                // The runtime's private diagnostics meters (QUIC internals and the like) are noise on a dashboard.
                && !i.Meter.Name.StartsWith("Private.", StringComparison.Ordinal));
        services.AddSingleton(sp => new PrometheusMeterBridge(Metrics.DefaultRegistry, EngineMetrics.MeterName, sp.GetRequiredService<IMeterFactory>()));
        services.AddSingleton(sp => new MetricsEndpoint(metrics, sp.GetRequiredService<PrometheusMeterBridge>(), sp.GetRequiredService<ILogger<MetricsEndpoint>>()));
        services.AddHostedService(sp => sp.GetRequiredService<MetricsEndpoint>());
    }

    private static IReadStateStore CreateStore(IServiceProvider sp)
    {
        var storage = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
        if (storage.IsScylla)
        {
            // The engine needs its store when it is built, at host start-up: connecting (topology, schema,
            // prepared statements) is the one blocking wait, bounded by the connect and request timeouts.
            var scylla = sp.GetRequiredService<IOptions<ScyllaOptions>>().Value;
            using var timeout = new CancellationTokenSource(StartupBudget(scylla));
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("ReadStates.Storage.Scylla");
            return ScyllaStore.CreateAsync(scylla, logger, timeout.Token).GetAwaiter().GetResult();
        }
        return new RocksDbStore(storage.RocksDb, sp.GetRequiredService<ILogger<RocksDbStore>>());
    }

    private static TimeSpan StartupBudget(ScyllaOptions o) =>
        o.ConnectTimeout * (o.ContactPoints.Length + 1) + o.RequestTimeout * 8;

    private static void Bind<TOptions>(IServiceCollection services, IConfiguration config, string section, Func<TOptions, IReadOnlyList<string>> validate)
        where TOptions : class
    {
        services.AddOptions<TOptions>()
            .Bind(config.GetSection(section), b => b.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>>(new OptionsValidator<TOptions>(validate));
    }
}
