using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace ReadStates.Hosting.Auth;

/// <summary>Turns <see cref="JwtOptions"/> into verification keys, offline: inline PEM / base64 secrets and a JWKS file.</summary>
internal static class JwtKeys
{
    /// <summary>Minimum HMAC secret: HS256 needs a key at least as long as its output.</summary>
    public const int MinSecretBytes = 32;

    public static List<SecurityKey> Load(JwtOptions options, List<string> errors)
    {
        var keys = new List<SecurityKey>();
        for (int i = 0; i < options.SigningKeys.Length; i++)
        {
            string text = options.SigningKeys[i]?.Trim() ?? "";
            string at = $"Auth:Jwt:SigningKeys:{i}";
            if (text.StartsWith("-----BEGIN", StringComparison.Ordinal))
            {
                if (text.Contains("PRIVATE KEY", StringComparison.Ordinal))
                {
                    errors.Add($"{at} is a private key; configure the issuer's public key only.");
                    continue;
                }
                if (TryPublicKey(text) is { } key) keys.Add(key);
                else errors.Add($"{at} is PEM but not an RSA or EC public key.");
                continue;
            }
            byte[] secret;
            try
            {
                secret = Convert.FromBase64String(text);
            }
            catch (FormatException)
            {
                errors.Add($"{at} must be a PEM public key or a base64 HMAC secret.");
                continue;
            }
            if (secret.Length < MinSecretBytes) errors.Add($"{at}: an HMAC secret needs at least {MinSecretBytes} bytes; got {secret.Length}.");
            else keys.Add(new SymmetricSecurityKey(secret) { KeyId = null });
        }
        if (!string.IsNullOrWhiteSpace(options.JwksPath))
        {
            try
            {
                var set = new JsonWebKeySet(File.ReadAllText(options.JwksPath));
                var fromFile = set.GetSigningKeys();
                if (fromFile.Count == 0) errors.Add($"Auth:Jwt:JwksPath '{options.JwksPath}' holds no usable signing key.");
                keys.AddRange(fromFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or System.Text.Json.JsonException)
            {
                errors.Add($"Auth:Jwt:JwksPath '{options.JwksPath}' cannot be read as a JWKS file: {ex.Message}");
            }
        }
        return keys;
    }

    private static SecurityKey? TryPublicKey(string pem)
    {
        try
        {
            var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (ArgumentException) { }
        catch (CryptographicException) { }
        try
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
        catch (ArgumentException) { }
        catch (CryptographicException) { }
        return null;
    }
}
