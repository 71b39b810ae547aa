using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ReadStates.Api;

namespace ReadStates.Hosting.Auth;

/// <summary>Why a call has no caller.</summary>
internal enum AuthFailure
{
    None,
    Missing,
    UnknownScheme,
    BadApiKey,
    BadToken,
    TokensNotAccepted,
    ApiKeysNotAccepted,
}

/// <summary>The outcome of authenticating one request: a struct, so an API-key call allocates nothing for it.</summary>
internal readonly record struct AuthResult(AuthFailure Failure, Permission Permissions, string? Caller)
{
    public bool Authenticated => Failure == AuthFailure.None;

    public bool Has(Permission required) => (Permissions & required) == required;

    public static AuthResult Fail(AuthFailure failure) => new(failure, Permission.None, null);

    /// <summary>The clear words a client gets back; no detail that would help guess a credential.</summary>
    public string Message => Failure switch
    {
        AuthFailure.Missing => "Credentials are required: send 'authorization: Bearer <jwt>', 'authorization: ApiKey <key>' or 'x-api-key: <key>'.",
        AuthFailure.UnknownScheme => "The authorization header must be 'Bearer <jwt>' or 'ApiKey <key>'.",
        AuthFailure.BadApiKey => "The API key is not valid.",
        AuthFailure.BadToken => "The bearer token is not valid (signature, issuer, audience or lifetime).",
        AuthFailure.TokensNotAccepted => "Bearer tokens are not accepted here (no Auth:Jwt configured); use an API key.",
        AuthFailure.ApiKeysNotAccepted => "API keys are not accepted here (no Auth:ApiKeys configured); use a bearer token.",
        _ => "",
    };
}

/// <summary>
/// Reads a request's credentials: an API key (<c>authorization: ApiKey …</c> or <c>x-api-key</c>) checked against
/// <see cref="ApiKeyStore"/>, or a JWT (<c>authorization: Bearer …</c>) validated by ASP.NET Core's JwtBearer
/// handler. Shared by the gRPC gate and the metrics endpoint. With no credentials configured every call is
/// allowed everything (loopback development; the start-up check refuses other addresses).
/// </summary>
internal sealed class CallerAuthenticator
{
    private static readonly AuthResult Anyone = new(AuthFailure.None, Permission.Read | Permission.Write, null);
    private readonly ApiKeyStore _keys;
    private readonly JwtOptions _jwt;
    private readonly ILogger _logger;

    public CallerAuthenticator(AuthOptions options, ILogger<CallerAuthenticator> logger)
    {
        Enabled = options.Enabled;
        _keys = new ApiKeyStore(options.ApiKeys);
        _jwt = options.Jwt;
        _logger = logger;
    }

    public bool Enabled { get; }

    public ValueTask<AuthResult> AuthenticateAsync(HttpContext context)
    {
        if (!Enabled) return new(Anyone);
        var headers = context.Request.Headers;
        var authorization = headers.Authorization;
        if (authorization.Count > 0)
        {
            string value = authorization[0] ?? "";
            if (value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                return _jwt.Enabled ? AuthenticateTokenAsync(context) : new(AuthResult.Fail(AuthFailure.TokensNotAccepted));
            if (value.StartsWith("ApiKey ", StringComparison.OrdinalIgnoreCase))
                return new(FromKey(value.AsSpan("ApiKey ".Length).Trim()));
            return new(AuthResult.Fail(AuthFailure.UnknownScheme));
        }
        var apiKey = headers["x-api-key"];
        if (apiKey.Count > 0) return new(FromKey((apiKey[0] ?? "").AsSpan().Trim()));
        return new(AuthResult.Fail(AuthFailure.Missing));
    }

    private AuthResult FromKey(ReadOnlySpan<char> key)
    {
        if (_keys.Count == 0) return AuthResult.Fail(AuthFailure.ApiKeysNotAccepted);
        return _keys.Find(key) is { } caller
            ? new AuthResult(AuthFailure.None, caller.Permissions, caller.Name)
            : AuthResult.Fail(AuthFailure.BadApiKey);
    }

    private async ValueTask<AuthResult> AuthenticateTokenAsync(HttpContext context)
    {
        var result = await context.AuthenticateAsync(JwtBearerDefaults.AuthenticationScheme).ConfigureAwait(false);
        if (!result.Succeeded || result.Principal is not { } principal)
        {
            AuthLog.TokenRejected(_logger, result.Failure?.Message ?? "no token");
            return AuthResult.Fail(AuthFailure.BadToken);
        }
        context.User = principal;
        return new AuthResult(AuthFailure.None, PermissionsOf(principal), principal.FindFirst("sub")?.Value ?? "jwt");
    }

    /// <summary>Scopes (space-separated in <c>scope</c> or <c>scp</c>) and roles (<c>roles</c>, <c>role</c>) name permissions.</summary>
    internal Permission PermissionsOf(ClaimsPrincipal principal)
    {
        var permissions = Permission.None;
        foreach (var claim in principal.Claims)
        {
            bool scopes = claim.Type is "scope" or "scp";
            if (!scopes && claim.Type is not ("roles" or "role")) continue;
            foreach (var range in claim.Value.AsSpan().Split(' '))
            {
                var word = claim.Value.AsSpan()[range];
                if (word.SequenceEqual(_jwt.ReadScope)) permissions |= Permission.Read;
                else if (word.SequenceEqual(_jwt.WriteScope)) permissions |= Permission.Write;
            }
        }
        return permissions;
    }
}
