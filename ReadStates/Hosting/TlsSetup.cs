using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using ReadStates.Hosting.Auth;

namespace ReadStates.Hosting;

/// <summary>Client-certificate validation for every HTTPS endpoint when <c>Tls:ClientCaPath</c> is set (mTLS).</summary>
internal static class TlsSetup
{
    public const string Section = "Tls";

    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    public static void Configure(WebApplicationBuilder builder)
    {
        var options = Read(builder.Configuration);
        var cas = options?.LoadClientCas([]);
        if (cas is not { Count: > 0 }) return; // nothing to do, or reported by the configuration check
        builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(https =>
        {
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            // The platform's verdict (against the machine's roots) does not matter: only our CAs do.
            https.ClientCertificateValidation = (certificate, _, _) => ChainsTo(certificate, cas);
        }));
    }

    /// <summary>The problems with <c>Tls</c>: the CA file, and mTLS without any HTTPS endpoint to apply to.</summary>
    public static IReadOnlyList<string> Check(TlsOptions options, IConfiguration config)
    {
        var errors = new List<string>();
        if (options.LoadClientCas(errors) is { Count: > 0 } && !ListenAddresses.Configured(config).Any(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
            errors.Add("Tls:ClientCaPath requires client certificates on HTTPS endpoints, but no endpoint is https:// (set Urls or Kestrel:Endpoints).");
        return errors;
    }

    internal static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection cas)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        return chain.Build(certificate);
    }

    private static TlsOptions? Read(IConfiguration config)
    {
        try
        {
            return config.GetSection(Section).Get<TlsOptions>();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
