using System.Net;
using System.Net.Sockets;
using ReadStates.Api.V1;

namespace ReadStates.Tests.Integration;

public sealed class MetricsTests
{
    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task MetricsEndpoint_ServesTheEngineInstruments_InPrometheusFormat_OverHttp1()
    {
        using var dir = new TempDir();
        int port = FreeLoopbackPort();
        await using var service = await RunningService.StartAsync(dir.Path, "Metrics:Enabled=true", $"Metrics:Port={port}");
        await service.Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 2, MessageId = 3 });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };

        string body = "";
        for (int attempt = 0; attempt < 50 && !body.Contains("readstates_cache_resident_users", StringComparison.Ordinal); attempt++)
        {
            if (attempt > 0) await Task.Delay(100);
            using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(new Version(1, 1), response.Version);
            body = await response.Content.ReadAsStringAsync();
        }

        Assert.Contains("readstates_cache_resident_users", body, StringComparison.Ordinal);
        var samples = body.Split('\n').Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => double.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, samples["readstates_cache_resident_users"]);
        Assert.Equal(1, samples["readstates_cache_loads_total"]);
        Assert.Equal(1, samples["readstates_store_healthy"]);
        Assert.Contains("# TYPE readstates_cache_loads_total counter", body, StringComparison.Ordinal);
        Assert.DoesNotContain("readstates_readstates", body, StringComparison.Ordinal);
        Assert.DoesNotContain("private_internaldiagnostics", body, StringComparison.Ordinal);
        Assert.Contains("process_cpu_seconds_total", body, StringComparison.Ordinal);
    }
}
