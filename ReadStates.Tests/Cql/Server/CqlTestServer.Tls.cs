using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace ReadStates.Tests.Cql.Server;

/// <summary>The optional TLS mode: every listener speaks TLS with the options' certificate, optionally requiring a client certificate.</summary>
internal sealed partial class CqlTestServer
{
    private int _tlsHandshakes, _tlsFailures;

    /// <summary>Completed TLS handshakes.</summary>
    public int TlsHandshakes => Volatile.Read(ref _tlsHandshakes);

    /// <summary>Handshakes that failed (a client without an acceptable certificate, or one that gave up on ours).</summary>
    public int TlsFailures => Volatile.Read(ref _tlsFailures);

    /// <summary>Subjects of the client certificates that passed.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> ClientCertificateSubjects { get; } = new();

    /// <summary>A port nothing listens on, advertised as the plain shard-aware port in TLS mode.</summary>
    private int ClosedPort { get; } = FindClosedPort();

    private static int FindClosedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task<bool> NegotiateTlsAsync(ServerConnection connection, CancellationToken ct)
    {
        var ssl = new SslStream(connection.Stream, leaveInnerStreamOpen: false);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificate = _options.Certificate,
            ClientCertificateRequired = _options.ClientCa is not null,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => _options.ClientCa is null || ChainsToClientCa(certificate),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await ssl.AuthenticateAsServerAsync(options, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException)
        {
            Interlocked.Increment(ref _tlsFailures);
            await ssl.DisposeAsync().ConfigureAwait(false);
            return false;
        }
        Interlocked.Increment(ref _tlsHandshakes);
        if (ssl.RemoteCertificate is { } client) ClientCertificateSubjects.Enqueue(client.Subject);
        connection.Stream = ssl;
        return true;
    }

    private bool ChainsToClientCa(X509Certificate? certificate)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_options.ClientCa!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }
}
