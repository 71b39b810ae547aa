using System.Globalization;
using ReadStates.Api;

namespace ReadStates.Hosting.Auth;

/// <summary>Who may call the service. Bound from the <c>Auth</c> configuration section.</summary>
public sealed class AuthOptions
{
    /// <summary>API keys, stored as the SHA-256 of the key (the key itself never appears in configuration).</summary>
    public ApiKeyOptions[] ApiKeys { get; set; } = [];

    public JwtOptions Jwt { get; set; } = new();

    /// <summary>Server reflection: <c>Read</c> (callers with the read permission) or <c>Open</c> (anyone).</summary>
    public EndpointAccess Reflection { get; set; } = EndpointAccess.Read;

    /// <summary>The Prometheus endpoint: <c>Read</c> (callers with the read permission) or <c>Open</c> (anyone who reaches its port).</summary>
    public EndpointAccess Metrics { get; set; } = EndpointAccess.Read;

    /// <summary>
    /// Listen on non-loopback addresses with no credentials configured, letting anyone who reaches the port
    /// read and change every read state. Without this, such a start is refused (exit code 2).
    /// </summary>
    public bool AllowUnauthenticated { get; set; }

    /// <summary>Credentials are configured: every call must present valid ones.</summary>
    public bool Enabled => ApiKeys.Length > 0 || Jwt.Enabled;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < ApiKeys.Length; i++)
        {
            var key = ApiKeys[i];
            string at = $"Auth:ApiKeys:{i}";
            if (string.IsNullOrWhiteSpace(key.Name)) errors.Add($"{at}:Name must name the caller (it appears in logs).");
            else if (!names.Add(key.Name)) errors.Add($"{at}:Name '{key.Name}' is used by another key.");
            if (!ApiKeyOptions.TryParseHash(key.Sha256, out _))
                errors.Add($"{at}:Sha256 must be the 64 hex digits of the key's SHA-256 (printf %s \"$KEY\" | sha256sum); got '{key.Sha256}'.");
            else if (!hashes.Add(key.Sha256.Trim())) errors.Add($"{at}:Sha256 is the hash of another key.");
            if (!ApiKeyOptions.TryParsePermissions(key.Permissions, out _, out string bad))
                errors.Add($"{at}:Permissions must list one or more of read, write; got '{bad}'.");
        }
        errors.AddRange(Jwt.Validate());
        return errors;
    }
}

public enum EndpointAccess
{
    Read,
    Open,
}

public sealed class ApiKeyOptions
{
    /// <summary>Who holds the key, for logs.</summary>
    public string Name { get; set; } = "";

    /// <summary>Hex SHA-256 of the key's UTF-8 bytes.</summary>
    public string Sha256 { get; set; } = "";

    /// <summary><c>read</c>, <c>write</c>, or both.</summary>
    public string[] Permissions { get; set; } = [];

    internal static bool TryParseHash(string? hex, out byte[] hash)
    {
        hash = [];
        var s = (hex ?? "").Trim();
        if (s.Length != 64 || !s.All(char.IsAsciiHexDigit)) return false;
        hash = Convert.FromHexString(s);
        return true;
    }

    internal static bool TryParsePermissions(string[]? names, out Permission permission, out string bad)
    {
        permission = Permission.None;
        bad = "";
        foreach (var name in names ?? [])
        {
            switch (name?.Trim().ToLowerInvariant())
            {
                case "read": permission |= Permission.Read; break;
                case "write": permission |= Permission.Write; break;
                default: bad = name ?? ""; return false;
            }
        }
        if (permission == Permission.None) bad = string.Join(",", names ?? []);
        return permission != Permission.None;
    }
}

/// <summary>JWT bearer tokens (ASP.NET Core JwtBearer), validated offline: keys inline or from a JWKS file.</summary>
public sealed class JwtOptions
{
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>Required <c>iss</c>.</summary>
    public string? Issuer { get; set; }

    /// <summary>Required <c>aud</c>.</summary>
    public string? Audience { get; set; }

    /// <summary>Inline verification keys: a PEM public key (RSA or EC) or a base64 secret of at least 32 bytes (HMAC).</summary>
    public string[] SigningKeys { get; set; } = [];

    /// <summary>A JWKS file (<c>{"keys": [...]}</c>) with the verification keys; read at start, never fetched.</summary>
    public string? JwksPath { get; set; }

    /// <summary>Scope (in <c>scope</c>/<c>scp</c>) or role (in <c>roles</c>/<c>role</c>) that grants reading.</summary>
    public string ReadScope { get; set; } = "readstates.read";

    /// <summary>Scope or role that grants writing.</summary>
    public string WriteScope { get; set; } = "readstates.write";

    /// <summary>Tolerated clock difference for <c>exp</c>/<c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    public bool Enabled => SigningKeys.Length > 0 || !string.IsNullOrWhiteSpace(JwksPath);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        bool anything = Enabled || Issuer is not null || Audience is not null;
        if (!anything) return errors;
        if (!Enabled) errors.Add("Auth:Jwt needs Auth:Jwt:SigningKeys or Auth:Jwt:JwksPath to verify tokens.");
        if (string.IsNullOrWhiteSpace(Issuer)) errors.Add("Auth:Jwt:Issuer must name the token issuer (the iss claim every token must carry).");
        if (string.IsNullOrWhiteSpace(Audience)) errors.Add("Auth:Jwt:Audience must name this service (the aud claim every token must carry).");
        if (string.IsNullOrWhiteSpace(ReadScope) || ReadScope.Contains(' ', StringComparison.Ordinal)) errors.Add($"Auth:Jwt:ReadScope must be one word; got '{ReadScope}'.");
        if (string.IsNullOrWhiteSpace(WriteScope) || WriteScope.Contains(' ', StringComparison.Ordinal)) errors.Add($"Auth:Jwt:WriteScope must be one word; got '{WriteScope}'.");
        if (ClockSkew < TimeSpan.Zero || ClockSkew > MaxClockSkew)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"Auth:Jwt:ClockSkew must be between 0 and 5 minutes; got {ClockSkew}."));
        if (Enabled) JwtKeys.Load(this, errors);
        return errors;
    }
}
