using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using ReadStates.Api;

namespace ReadStates.Hosting.Auth;

/// <summary>Wires authentication and authorization into the host: options, the gate, JwtBearer, the exposure check.</summary>
internal static class AuthSetup
{
    public const string Section = "Auth";

    public static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.AddSingleton(sp => new CallerAuthenticator(sp.GetRequiredService<IOptions<AuthOptions>>().Value, sp.GetRequiredService<ILogger<CallerAuthenticator>>()));
        services.AddHostedService<AuthStartupReport>();
        // JwtBearer only when tokens are configured: its presence makes the framework add its authentication
        // middleware to every request. Read leniently; a bad section is reported by the configuration check.
        var auth = new AuthOptions();
        try
        {
            config.GetSection(Section).Bind(auth);
        }
        catch (InvalidOperationException)
        {
            return;
        }
        if (auth.Jwt.Enabled) AddJwtBearer(services, () => auth.Jwt);
    }

    /// <summary>ASP.NET Core's JwtBearer, validating offline against the configured keys (no metadata is ever fetched).</summary>
    public static void AddJwtBearer(IServiceCollection services, Func<JwtOptions> jwt)
    {
        // Only our gate asks for authentication, by scheme name. With no default scheme the framework's own
        // authentication middleware (added whenever a scheme is registered) authenticates nothing per request;
        // a single registered scheme would otherwise become the default (process-wide switch, read once).
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        services.AddAuthentication().AddJwtBearer(o =>
        {
            var options = jwt();
            var errors = new List<string>();
            var keys = JwtKeys.Load(options, errors);
            o.MapInboundClaims = false; // keep "scope", "roles", "sub" as the issuer wrote them
            o.RequireHttpsMetadata = false; // no Authority, no MetadataAddress: nothing is fetched
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = options.Issuer,
                ValidAudience = options.Audience,
                IssuerSigningKeys = keys,
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ValidateIssuerSigningKey = true,
                ClockSkew = options.ClockSkew,
            };
        });
    }

    /// <summary>The gate before every gRPC endpoint; health always open, reflection as configured.</summary>
    public static void Map(WebApplication app, IEndpointConventionBuilder health, IEndpointConventionBuilder reflection)
    {
        // Read leniently (a bad value is reported by the configuration check before start); anything but Open is Read.
        bool openReflection = Enum.TryParse<EndpointAccess>(app.Configuration[$"{Section}:{nameof(AuthOptions.Reflection)}"], ignoreCase: true, out var access)
            && access == EndpointAccess.Open;
        health.WithMetadata(OpenAccess.Instance);
        reflection.WithMetadata(openReflection ? OpenAccess.Instance : new RequiresPermissionAttribute(Permission.Read));
        app.UseMiddleware<RpcAuthorizationMiddleware>();
    }

    /// <summary>Listening beyond loopback needs credentials, or the explicit waiver.</summary>
    public static IEnumerable<string> CheckExposure(IConfiguration config, AuthOptions auth, MetricsOptions metrics)
    {
        if (auth.Enabled || auth.AllowUnauthenticated) yield break;
        var exposed = ListenAddresses.Configured(config).Where(u => !ListenAddresses.IsLoopback(u)).ToList();
        if (metrics.Enabled && !ListenAddresses.IsLoopbackHost(metrics.Host)) exposed.Add($"metrics on {metrics.Host}:{metrics.Port}");
        if (exposed.Count == 0) yield break;
        yield return $"Listening on {string.Join(", ", exposed)} (not loopback) needs authentication: configure Auth:ApiKeys or Auth:Jwt, "
            + "or set Auth:AllowUnauthenticated=true to accept that anyone who reaches the port may read and change every read state.";
    }

    /// <summary>Says at start what protects the service, and which RPCs are denied for lack of a declared permission.</summary>
    private sealed class AuthStartupReport(IOptions<AuthOptions> options, IConfiguration config, EndpointDataSource endpoints,
        IHostApplicationLifetime lifetime, ILogger<AuthStartupReport> logger) : IHostedService
    {
        // The endpoints are known once the request pipeline is built, which happens after this service starts.
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStarted.Register(Report);
            return Task.CompletedTask;
        }

        private void Report()
        {
            var auth = options.Value;
            if (auth.Enabled)
                AuthLog.AuthenticationOn(logger, auth.ApiKeys.Length, auth.Jwt.Enabled ? $"issuer {auth.Jwt.Issuer}" : "off", auth.Reflection.ToString(), auth.Metrics.ToString());
            else
                AuthLog.AuthenticationOff(logger, ListenAddresses.Configured(config).All(ListenAddresses.IsLoopback) ? "every address is loopback" : "Auth:AllowUnauthenticated is true");
            foreach (var endpoint in endpoints.Endpoints)
            {
                if (endpoint.Metadata.GetMetadata<Grpc.AspNetCore.Server.GrpcMethodMetadata>() is { } rpc
                    && endpoint.Metadata.GetMetadata<OpenAccess>() is null
                    && endpoint.Metadata.GetMetadata<RequiresPermissionAttribute>() is null)
                    AuthLog.Undeclared(logger, rpc.Method.FullName);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
