using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ReadStates.Hosting.Auth;

namespace ReadStates.Tests.Support;

/// <summary>
/// Credentials for tests: random API keys (configured by hash), an HMAC secret and an RSA key published in a
/// JWKS file on disk, and tokens signed with either (or with keys the service does not know).
/// </summary>
internal sealed class AuthKit : IDisposable
{
    public const string Issuer = "https://issuer.readstates.test";
    public const string Audience = "readstates";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "readstates-auth-" + Guid.NewGuid().ToString("N"));
    private readonly RSA _rsa = RSA.Create(2048);

    public AuthKit()
    {
        Directory.CreateDirectory(_dir);
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(_rsa.ExportParameters(false)) { KeyId = "rsa-1" });
        JwksPath = Path.Combine(_dir, "jwks.json");
        File.WriteAllText(JwksPath, JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = jwk.Kid, n = jwk.N, e = jwk.E } } }));
    }

    public string ReaderKey { get; } = NewKey();
    public string WriterKey { get; } = NewKey();
    public string WriteOnlyKey { get; } = NewKey();
    public byte[] Secret { get; } = RandomNumberGenerator.GetBytes(32);
    public string JwksPath { get; }

    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>Settings (<c>Section:Key=value</c>) for three keys and JWTs from both kinds of key.</summary>
    public string[] Settings(params string[] more) =>
    [
        "Auth:ApiKeys:0:Name=reader", $"Auth:ApiKeys:0:Sha256={ApiKeyStore.HashOf(ReaderKey)}", "Auth:ApiKeys:0:Permissions:0=read",
        "Auth:ApiKeys:1:Name=writer", $"Auth:ApiKeys:1:Sha256={ApiKeyStore.HashOf(WriterKey)}", "Auth:ApiKeys:1:Permissions:0=read", "Auth:ApiKeys:1:Permissions:1=write",
        "Auth:ApiKeys:2:Name=write-only", $"Auth:ApiKeys:2:Sha256={ApiKeyStore.HashOf(WriteOnlyKey)}", "Auth:ApiKeys:2:Permissions:0=write",
        $"Auth:Jwt:Issuer={Issuer}", $"Auth:Jwt:Audience={Audience}",
        $"Auth:Jwt:SigningKeys:0={Convert.ToBase64String(Secret)}", $"Auth:Jwt:JwksPath={JwksPath}",
        .. more,
    ];

    public static Metadata ApiKey(string key) => new() { { "authorization", "ApiKey " + key } };

    public static Metadata XApiKey(string key) => new() { { "x-api-key", key } };

    public static Metadata Bearer(string token) => new() { { "authorization", "Bearer " + token } };

    public string HmacToken(string scope, string issuer = Issuer, string audience = Audience, TimeSpan? lifetime = null, byte[]? secret = null, string? roles = null) =>
        Token(new SigningCredentials(new SymmetricSecurityKey(secret ?? Secret), SecurityAlgorithms.HmacSha256), scope, issuer, audience, lifetime, roles);

    public string RsaToken(string scope, RSA? key = null) =>
        Token(new SigningCredentials(new RsaSecurityKey(key ?? _rsa) { KeyId = "rsa-1" }, SecurityAlgorithms.RsaSha256), scope, Issuer, Audience, null, null);

    private static string Token(SigningCredentials credentials, string scope, string issuer, string audience, TimeSpan? lifetime, string? roles)
    {
        var now = DateTime.UtcNow;
        var life = lifetime ?? TimeSpan.FromMinutes(10);
        var claims = new List<Claim> { new("sub", "svc-test") };
        if (scope.Length > 0) claims.Add(new Claim("scope", scope));
        if (roles is not null) claims.Add(new Claim("roles", roles));
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = life < TimeSpan.Zero ? now + life - TimeSpan.FromMinutes(5) : now,
            NotBefore = life < TimeSpan.Zero ? now + life - TimeSpan.FromMinutes(5) : now,
            Expires = now + life,
            SigningCredentials = credentials,
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    /// <summary>A token with <c>alg: none</c>: header and claims, no signature.</summary>
    public static string UnsignedToken(string scope)
    {
        static string B64(string json) => Base64UrlEncoder.Encode(json);
        long exp = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds();
        return B64("""{"alg":"none","typ":"JWT"}""") + "." + B64($$"""{"iss":"{{Issuer}}","aud":"{{Audience}}","scope":"{{scope}}","exp":{{exp}}}""") + ".";
    }

    public void Dispose()
    {
        _rsa.Dispose();
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }
}
