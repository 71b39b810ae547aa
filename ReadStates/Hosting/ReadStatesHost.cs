using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using System.Diagnostics.Metrics;
using System.Globalization;
using ReadStates.Api;
using ReadStates.Hosting.Auth;
using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Durability;
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

    /// <summary>
    /// Builds the application. <paramref name="configure"/> runs last, before the app is built
    /// (tests use it to point the store at a temp directory and listen on port 0).
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        DurationConverter.Register(); // before anything binds a TimeSpan
        // appsettings.json beside the binary, whatever the working directory (relative data paths stay relative to it).
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        AddPrefixedEnvironment(builder.Configuration);
        ConfigureKestrel(builder);
        TlsSetup.Configure(builder);
        AddServices(builder.Services, builder.Configuration);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapGrpcService<ReadStatesService>();
        // Read leniently: a bad value is reported with every other problem by the configuration check.
        if (bool.TryParse(app.Configuration["Service:BenchDiagnostics"], out bool diagnostics) && diagnostics)
            app.MapGrpcService<Api.Diagnostics.DiagnosticsService>();
        AuthSetup.Map(app, app.MapGrpcHealthChecksService(), app.MapGrpcReflectionService());
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
            // Before the first request: on small core counts the runtime's minimum (the core count) lets a
            // blocked worker stall the calls queued behind it.
            ThreadPoolMinimum.Raise(app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.MinThreads);
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
        Collect<TracingOptions>(services, problems);
        Collect<HealthOptions>(services, problems);
        Collect<ScyllaOptions>(services, problems);
        Collect<TlsOptions>(services, problems);
        if (Collect<AuthOptions>(services, problems) is { } auth && Collect<MetricsOptions>(services, []) is { } metrics)
            problems.AddRange(AuthSetup.CheckExposure(services.GetRequiredService<IConfiguration>(), auth, metrics));
        if (services.GetRequiredService<IConfiguration>() is IConfigurationRoot root)
            problems.AddRange(ConfigurationSections.FindUnknown(root, [.. services.GetServices<ConfigurationSectionName>().Select(s => s.Name).Distinct()]));
        return problems;
    }

    private static TOptions? Collect<TOptions>(IServiceProvider services, List<string> problems)
        where TOptions : class
    {
        try
        {
            return services.GetRequiredService<IOptions<TOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            problems.AddRange(ex.Failures);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's own message: a value of the wrong type, or a key no setting has; a value our
            // converters refuse says why in the inner exception.
            problems.Add(ex.InnerException is FormatException format ? $"{ex.Message} {format.Message}." : ex.Message);
        }
        return null;
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
        Bind<TracingOptions>(services, config, "Tracing", o => o.Validate());
        Bind<HealthOptions>(services, config, "Health", o => o.Validate());
        Bind<AuthOptions>(services, config, AuthSetup.Section, o => o.Validate());
        Bind<TlsOptions>(services, config, TlsSetup.Section, o => TlsSetup.Check(o, config));
        AuthSetup.AddServices(services, config);
        // Checked only when it is the store in use: a rocksdb deployment need not care about it.
        bool scylla = StorageOptions.IsKind(config["Storage:Kind"], StorageOptions.ScyllaKind);
        Bind<ScyllaOptions>(services, config, "Scylla", o => scylla ? o.Validate() : []);
        // The binder appends configured array items to the default ones; contact points must replace them.
        services.PostConfigure<ScyllaOptions>(o =>
        {
            var points = config.GetSection("Scylla:ContactPoints");
            if (points.Exists()) o.ContactPoints = points.Get<string[]>() ?? [];
        });

        // The host's shutdown timeout is what Kestrel waits for open calls to drain before it aborts them:
        // keep it short, or one client holding calls open delays the stop (and the final flush behind it)
        // past an orchestrator's grace period. The engine's stop does not use the host's token (it bounds
        // its own retries by Engine:ShutdownFlushTimeout), and the host awaits every hosted service's stop
        // whether or not its token has fired, so this never cuts the final flush.
        // Read leniently: a bad value is reported by the configuration check, not here.
        var drain = Duration.TryParse(config["Service:DrainTimeout"], out var d, out _) && d >= TimeSpan.Zero
            ? d : new ServiceOptions().DrainTimeout;
        services.Configure<HostOptions>(o => o.ShutdownTimeout = drain);

        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ServiceOptions>>().Value.ToLimits());
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ServiceOptions>>().Value.ToWatchLimits());
        services.AddSingleton(CreateStore);
        services.AddSingleton(sp =>
        {
            var engine = sp.GetRequiredService<IOptions<EngineOptions>>().Value;
            var store = sp.GetRequiredService<IReadStateStore>(); // first: a data directory in use is reported as such
            return new ReadStateEngine(engine, store, sp.GetRequiredService<ILogger<ReadStateEngine>>(), logDevice: OpenChangeLog(sp, engine));
        });
        services.AddSingleton(sp => new EngineMetrics(sp.GetRequiredService<ReadStateEngine>(), sp.GetRequiredService<IMeterFactory>()));
        // Registered before the web server's own hosted service: starts first, stops after Kestrel has drained.
        services.AddHostedService<EngineHostedService>();

        // Read leniently here: a bad value is reported by the configuration check, and then nothing starts.
        var metrics = TelemetrySetup.TryBind<MetricsOptions>(config, "Metrics");
        if (metrics is { } mo && mo.Validate().Count > 0) metrics = null;
        var tracing = TelemetrySetup.TryBind<TracingOptions>(config, "Tracing");
        if (tracing is { } tr && tr.Validate().Count > 0) tracing = null;
        TelemetrySetup.Add(services, metrics, tracing);
        if (metrics is { Enabled: true })
        {
            services.AddSingleton(sp =>
            {
                var auth = sp.GetRequiredService<IOptions<AuthOptions>>().Value;
                var gate = auth.Enabled && auth.Metrics == EndpointAccess.Read ? new MetricsGate(sp.GetRequiredService<CallerAuthenticator>(), auth) : null;
                return new MetricsEndpoint(metrics, sp.GetRequiredService<MeterProvider>(), sp.GetRequiredService<RuntimeGauges>(), sp.GetRequiredService<ILogger<MetricsEndpoint>>(), gate);
            });
            services.AddHostedService(sp => sp.GetRequiredService<MetricsEndpoint>());
        }

        // The service and its interceptors hold no per-call state: one instance each, rather than one
        // activated (and its logger resolved) for every call, which is grpc-dotnet's default.
        services.AddSingleton<ReadStatesService>();
        services.AddSingleton<EngineErrorInterceptor>();
        services.AddSingleton<Api.Streaming.StreamErrors>();
        services.AddSingleton<Api.Diagnostics.DiagnosticsService>();
        services.AddGrpc(o =>
        {
            // Outermost first: call metrics see the status the error mapping chose.
            if (metrics is { Enabled: true }) o.Interceptors.Add<RpcMetricsInterceptor>();
            o.Interceptors.Add<EngineErrorInterceptor>();
        });
        DecodingServiceMethodProvider.Replace(services); // undecodable requests: INVALID_ARGUMENT, one Debug line
        LoggingSetup.Configure(services);
        services.AddGrpcReflection();
        HealthSetup.Add(services);
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
        var rocks = storage.RocksDb;
        // Durable mode deletes log segments once the store has their changes: the store must have them
        // on disk too, not only in the OS cache, or a power loss after the deletion would lose them.
        if (sp.GetRequiredService<IOptions<EngineOptions>>().Value.Durability == DurabilityMode.Durable && !rocks.Sync)
            rocks = new RocksDbStoreOptions { Path = rocks.Path, BlockCacheMb = rocks.BlockCacheMb, Sync = true };
        return new RocksDbStore(rocks, sp.GetRequiredService<ILogger<RocksDbStore>>());
    }

    /// <summary>
    /// The local change log, in both modes: durable mode appends every change to it, deferred mode keeps
    /// there what a failing store could not take at shutdown; either way the engine replays it at start.
    /// </summary>
    private static FileLogDevice OpenChangeLog(IServiceProvider sp, EngineOptions engine)
    {
        var storage = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
        return new FileLogDevice(ChangeLogPath(engine, storage));
    }

    /// <summary><c>Engine:LogPath</c>, or a <c>changelog</c> directory inside the local data directory (<c>Storage:RocksDb:Path</c>).</summary>
    public static string ChangeLogPath(EngineOptions engine, StorageOptions storage) =>
        string.IsNullOrWhiteSpace(engine.LogPath) ? Path.Combine(storage.RocksDb.Path, "changelog") : engine.LogPath;

    private static TimeSpan StartupBudget(ScyllaOptions o) =>
        o.ConnectTimeout * (o.ContactPoints.Length + 1) + o.RequestTimeout * 8;

    private static void Bind<TOptions>(IServiceCollection services, IConfiguration config, string section, Func<TOptions, IReadOnlyList<string>> validate)
        where TOptions : class
    {
        services.AddSingleton(new ConfigurationSectionName(section));
        services.AddOptions<TOptions>()
            .Bind(config.GetSection(section), b => b.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>>(new OptionsValidator<TOptions>(section, validate));
    }
}
