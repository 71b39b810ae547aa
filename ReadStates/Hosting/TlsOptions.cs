using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ReadStates.Hosting;

/// <summary>
/// Mutual TLS on the gRPC port. Bound from the <c>Tls</c> configuration section. The server's own
/// certificate is Kestrel's business (<c>https://</c> URLs with <c>Kestrel:Certificates:Default:Path</c> and
/// <c>KeyPath</c>, or per endpoint); this adds what Kestrel cannot be told in configuration: which private CA
/// client certificates must chain to.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>
    /// PEM file of the CA certificates that sign client certificates. When set, every HTTPS endpoint
    /// requires a client certificate that chains to one of them (and, when it lists extended key usages,
    /// allows client authentication); revocation is not checked (a private CA rarely publishes lists).
    /// </summary>
    public string? ClientCaPath { get; set; }

    /// <summary>The CAs of <see cref="ClientCaPath"/>; reports problems instead of throwing.</summary>
    internal X509Certificate2Collection? LoadClientCas(List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(ClientCaPath)) return null;
        var cas = new X509Certificate2Collection();
        try
        {
            cas.ImportFromPemFile(ClientCaPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            errors.Add($"Tls:ClientCaPath '{ClientCaPath}' cannot be read as PEM certificates: {ex.Message}");
            return null;
        }
        if (cas.Count == 0) errors.Add($"Tls:ClientCaPath '{ClientCaPath}' holds no certificate.");
        return cas;
    }
}
