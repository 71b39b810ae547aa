using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Tests.Probe;
using ReadStates.Tests.Support;

namespace ReadStates.Tests.Integration;

/// <summary>Authentication off on loopback, reflection and metrics as configured.</summary>
public sealed class AuthModesTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly AuthKit _kit = new();

    public void Dispose()
    {
        _kit.Dispose();
        _dir.Dispose();
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task WithoutCredentialsConfigured_OnLoopback_EveryDeclaredRpcIsOpen_ButAnUndeclaredOneStillIsNot()
    {
        var logs = new CapturingLoggerProvider();
        await using var service = await RunningService.StartAsync(_dir.Path, b => b.Logging.AddProvider(logs), app => app.MapGrpcService<ProbeService>(), null);
        var probe = new Probe.Probe.ProbeClient(service.Channel);

        Assert.True((await service.Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 1, MessageId = 1 })).Applied);
        Assert.Single((await service.Client.GetAsync(new GetRequest { UserId = 1 })).States);
        Assert.Equal("declared x", (await probe.DeclaredAsync(new Ping { Text = "x" })).Text);
        var denied = await Assert.ThrowsAsync<RpcException>(() => probe.UndeclaredAsync(new Ping()).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);

        Assert.Contains(logs.Entries, e => e.EventId.Id == 5103 && e.Level == LogLevel.Warning && e.Message.Contains("every address is loopback", StringComparison.Ordinal));
        var undeclared = Assert.Single(logs.Entries, e => e.EventId.Id == 5105);
        Assert.Contains("/readstates.testing.Probe/Undeclared", undeclared.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenReflection_AnswersWithoutCredentials_WhileTheApiStillNeedsThem()
    {
        await using var service = await RunningService.StartAsync(_dir.Path, null, null, null, _kit.Settings("Auth:Reflection=Open"));
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(service.Channel);
        using var call = reflection.ServerReflectionInfo(deadline: DateTime.UtcNow.AddSeconds(20));

        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = "" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        await call.RequestStream.CompleteAsync();

        Assert.Contains(call.ResponseStream.Current.ListServicesResponse.Service, s => s.Name == "readstates.v1.ReadStates");
        var error = await Assert.ThrowsAsync<RpcException>(() => service.Client.GetAsync(new GetRequest { UserId = 1 }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task Metrics_NeedTheReadPermission_ByApiKeyOrBearer_WhenAuthenticationIsOn()
    {
        int port = FreeLoopbackPort();
        await using var service = await RunningService.StartAsync(_dir.Path, null, null, null, _kit.Settings("Metrics:Enabled=true", $"Metrics:Port={port}"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var url = new Uri($"http://127.0.0.1:{port}/metrics");

        async Task<HttpStatusCode> Scrape(string? authorization)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
            using var response = await http.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.OK)
                Assert.Contains("readstates_", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
                Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await Scrape(null));
        Assert.Equal(HttpStatusCode.Unauthorized, await Scrape("ApiKey " + AuthKit.NewKey()));
        Assert.Equal(HttpStatusCode.Forbidden, await Scrape("ApiKey " + _kit.WriteOnlyKey));
        Assert.Equal(HttpStatusCode.OK, await Scrape("ApiKey " + _kit.ReaderKey));
        Assert.Equal(HttpStatusCode.OK, await Scrape("Bearer " + _kit.HmacToken("readstates.read")));
        Assert.Equal(HttpStatusCode.Unauthorized, await Scrape("Bearer " + _kit.HmacToken("readstates.read", audience: "other")));
    }

    [Fact]
    public async Task OpenMetrics_AnswerWithoutCredentials()
    {
        int port = FreeLoopbackPort();
        await using var service = await RunningService.StartAsync(_dir.Path, null, null, null, _kit.Settings("Metrics:Enabled=true", $"Metrics:Port={port}", "Auth:Metrics=Open"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
