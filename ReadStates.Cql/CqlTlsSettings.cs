using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace ReadStates.Cql;

/// <summary>TLS for every connection of a session (ScyllaDB's <c>client_encryption_options</c>), optionally with a client certificate.</summary>
public sealed record CqlTlsSettings
{
    /// <summary>Name the node certificates must carry (and SNI); null = the address connected to (certificates then need an IP SAN).</summary>
    public string? ServerName { get; init; }

    /// <summary>Roots to trust instead of the machine's (a private CA); empty = the machine's trust store.</summary>
    public X509Certificate2Collection TrustedRoots { get; init; } = [];

    /// <summary>Client certificate (with its private key) for nodes that require one; null = none.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Check that the certificate names the server; off only for clusters whose certificates name no node.</summary>
    public bool ValidateHostName { get; init; } = true;

    internal SslClientAuthenticationOptions ToSslOptions(string targetHost) => new()
    {
        TargetHost = ServerName ?? targetHost,
        ClientCertificates = ClientCertificate is null ? null : [ClientCertificate],
        EnabledSslProtocols = SslProtocols.None, // the platform's choice: TLS 1.2 and 1.3
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = Validate,
    };

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 && ValidateHostName) return false;
        if (TrustedRoots.Count == 0) return (errors & SslPolicyErrors.RemoteCertificateChainErrors) == 0;
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(TrustedRoots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
            foreach (var element in chain.ChainElements) custom.ChainPolicy.ExtraStore.Add(element.Certificate);
        return custom.Build(certificate as X509Certificate2 ?? new X509Certificate2(certificate));
    }
}
