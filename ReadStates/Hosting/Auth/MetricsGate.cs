using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ReadStates.Api;

namespace ReadStates.Hosting.Auth;

/// <summary>
/// Credentials for <c>/metrics</c> (when <c>Auth:Metrics</c> is <c>Read</c> and authentication is on): the same
/// API keys and JWTs as the gRPC port, with the read permission. Prometheus sends them with
/// <c>authorization: {type: ApiKey, credentials_file: …}</c> or <c>type: Bearer</c>.
/// </summary>
internal sealed class MetricsGate(CallerAuthenticator authenticator, AuthOptions auth)
{
    /// <summary>What the metrics server's own container needs to validate JWTs.</summary>
    public void AddServices(IServiceCollection services)
    {
        if (auth.Jwt.Enabled) AuthSetup.AddJwtBearer(services, () => auth.Jwt);
    }

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var caller = await authenticator.AuthenticateAsync(context).ConfigureAwait(false);
        if (!caller.Authenticated)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer, ApiKey";
            await context.Response.WriteAsync(caller.Message + "\n").ConfigureAwait(false);
            return;
        }
        if (!caller.Has(Permission.Read))
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("The caller lacks the read permission.\n").ConfigureAwait(false);
            return;
        }
        await next(context).ConfigureAwait(false);
    }
}
