using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ReadStates.Cql;

namespace ReadStates.Storage.Scylla;

/// <summary>TLS to ScyllaDB (configuration section <c>Scylla:Tls</c>): the nodes' <c>client_encryption_options</c>.</summary>
public sealed class ScyllaTlsOptions
{
    /// <summary>Speak TLS to every node (and to ScyllaDB's TLS shard-aware port).</summary>
    public bool Enabled { get; set; }

    /// <summary>PEM file of the CA(s) that sign the node certificates; unset = the machine's trust store.</summary>
    public string? CaPath { get; set; }

    /// <summary>PEM client certificate, for nodes with <c>require_client_auth: true</c>; needs <see cref="KeyPath"/>.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Name every node certificate must carry; unset = the node's address (certificates then need it as an IP SAN).</summary>
    public string? ServerName { get; set; }

    /// <summary>Check that node certificates name the node (or <see cref="ServerName"/>).</summary>
    public bool ValidateHostName { get; set; } = true;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enabled)
        {
            if (CaPath is not null || CertificatePath is not null || KeyPath is not null)
                errors.Add("Tls:CaPath/CertificatePath/KeyPath are set but Tls:Enabled is false: set it to true, or remove them.");
            return errors;
        }
        _ = ToSettings(errors);
        return errors;
    }

    /// <summary>The client's settings, files loaded; null when disabled or when a file is wrong (then <paramref name="errors"/> says why).</summary>
    internal CqlTlsSettings? ToSettings(List<string> errors)
    {
        if (!Enabled) return null;
        var roots = new X509Certificate2Collection();
        if (CaPath is not null)
        {
            try
            {
                roots.ImportFromPemFile(CaPath);
                if (roots.Count == 0) errors.Add($"Tls:CaPath '{CaPath}' holds no certificate.");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                errors.Add($"Tls:CaPath '{CaPath}' cannot be read as PEM certificates: {ex.Message}");
            }
        }
        X509Certificate2? client = null;
        if ((CertificatePath is null) != (KeyPath is null))
            errors.Add("Tls:CertificatePath and Tls:KeyPath must be set together.");
        else if (CertificatePath is not null)
        {
            try
            {
                using var pem = X509Certificate2.CreateFromPemFile(CertificatePath, KeyPath);
                // Through PKCS#12 so the key is usable by SslStream on every platform.
                client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                errors.Add($"Tls:CertificatePath '{CertificatePath}' with KeyPath '{KeyPath}' cannot be loaded: {ex.Message}");
            }
        }
        return new CqlTlsSettings { TrustedRoots = roots, ClientCertificate = client, ServerName = ServerName, ValidateHostName = ValidateHostName };
    }
}
