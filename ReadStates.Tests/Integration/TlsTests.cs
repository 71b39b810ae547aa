using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using ReadStates.Api.V1;
using ReadStates.Tests.Support;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>TLS and mTLS on the gRPC port: a real Kestrel HTTPS endpoint on 127.0.0.1 with certificates made here.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly TestCertificates _certs = new();

    public void Dispose()
    {
        _certs.Dispose();
        _dir.Dispose();
    }

    private string[] HttpsSettings(params string[] more) =>
    [
        "urls=https://127.0.0.1:0",
        $"Kestrel:Certificates:Default:Path={_certs.ServerCertificatePath}",
        $"Kestrel:Certificates:Default:KeyPath={_certs.ServerKeyPath}",
        .. more,
    ];

    private GrpcChannel Channel(string address, X509Certificate2? clientCertificate = null, bool trustCa = true)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (trustCa) handler.SslOptions.RemoteCertificateValidationCallback = _certs.Validator;
        if (clientCertificate is not null) handler.SslOptions.ClientCertificates = [clientCertificate];
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    private static async Task<StatusCode> AckStatusAsync(ReadStatesClient client)
    {
        try
        {
            await client.AckAsync(new AckRequest { UserId = 5, ChannelId = 1, MessageId = 10 }, deadline: DateTime.UtcNow.AddSeconds(20));
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    [Fact]
    public async Task Tls_ServesGrpcOverHttps_ToAClientThatTrustsTheCa_AndNoOneElse()
    {
        await using var service = await RunningService.StartAsync(_dir.Path, null, null, address => Channel(address), HttpsSettings());
        Assert.StartsWith("https://127.0.0.1:", service.Address, StringComparison.Ordinal);

        Assert.True((await service.Client.AckAsync(new AckRequest { UserId = 5, ChannelId = 1, MessageId = 10 })).Applied);
        Assert.Single((await service.Client.GetAsync(new GetRequest { UserId = 5 })).States);

        using var untrusting = Channel(service.Address, trustCa: false);
        Assert.NotEqual(StatusCode.OK, await AckStatusAsync(new ReadStatesClient(untrusting))); // the machine's roots do not know our CA
        using var plaintext = GrpcChannel.ForAddress(service.Address.Replace("https://", "http://", StringComparison.Ordinal));
        Assert.NotEqual(StatusCode.OK, await AckStatusAsync(new ReadStatesClient(plaintext)));
    }

    [Fact]
    public async Task MutualTls_RequiresAClientCertificateFromTheConfiguredCa()
    {
        await using var service = await RunningService.StartAsync(_dir.Path, null, null, address => Channel(address, _certs.Client),
            HttpsSettings($"Tls:ClientCaPath={_certs.CaPath}"));

        Assert.True((await service.Client.AckAsync(new AckRequest { UserId = 6, ChannelId = 1, MessageId = 10 })).Applied);

        using var anonymous = Channel(service.Address);
        Assert.NotEqual(StatusCode.OK, await AckStatusAsync(new ReadStatesClient(anonymous)));
        using var stranger = Channel(service.Address, _certs.Stranger);
        Assert.NotEqual(StatusCode.OK, await AckStatusAsync(new ReadStatesClient(stranger)));
        // Neither refused call wrote anything.
        Assert.Empty((await service.Client.GetAsync(new GetRequest { UserId = 5 })).States);
        Assert.Single((await service.Client.GetAsync(new GetRequest { UserId = 6 })).States);
    }

    [Fact]
    public void MutualTls_WithoutAnHttpsEndpoint_OrWithABadCaFile_IsRefusedAtStart()
    {
        var plain = ReadStates.Hosting.ReadStatesHost.Build(["--urls=http://127.0.0.1:0", $"--Tls:ClientCaPath={_certs.CaPath}"]);
        Assert.Contains(ReadStates.Hosting.ReadStatesHost.CheckConfiguration(plain.Services), p => p.Contains("no endpoint is https://", StringComparison.Ordinal));

        var missing = ReadStates.Hosting.ReadStatesHost.Build(["--urls=https://127.0.0.1:0", "--Tls:ClientCaPath=/nonexistent/ca.pem"]);
        Assert.Contains(ReadStates.Hosting.ReadStatesHost.CheckConfiguration(missing.Services), p => p.Contains("Tls:ClientCaPath '/nonexistent/ca.pem' cannot be read", StringComparison.Ordinal));
    }
}
