using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;

namespace ReadStates.Tests.Integration;

/// <summary>
/// /metrics of the real service, scraped and parsed as Prometheus does: types, unit-suffixed names,
/// counters with _total, no duplicate families or series, no negative values, and counts that move
/// with the calls made.
/// </summary>
public sealed class MetricsTests
{
    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<PrometheusText> ScrapeAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Version(1, 1), response.Version);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Scrapes until <paramref name="ready"/> holds (the engine's stats are cached for 200 ms), bounded.</summary>
    private static async Task<PrometheusText> ScrapeUntilAsync(int port, Func<PrometheusText, bool> ready)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var text = await ScrapeAsync(port);
            if (ready(text)) return text;
            Assert.True(DateTime.UtcNow < deadline, "metrics never reached the expected values");
            await Task.Delay(100);
        }
    }

    private const string Ack = "readstates.v1.ReadStates/Ack";

    [Fact]
    public async Task Metrics_AreValidPrometheus_WithTypesUnitsAndTotals_AndMoveWithCalls()
    {
        using var dir = new TempDir();
        int port = FreeLoopbackPort();
        await using var service = await RunningService.StartAsync(dir.Path, "Metrics:Enabled=true", $"Metrics:Port={port}",
            "Engine:FlushInterval=00:00:00.050", "Engine:MentionIdCap=1");
        var client = service.Client;

        await client.AckAsync(new AckRequest { UserId = 1, ChannelId = 2, MessageId = 3 }); // a miss: loads user 1
        await client.AckAsync(new AckRequest { UserId = 1, ChannelId = 2, MessageId = 4 }); // a hit
        var bad = await Assert.ThrowsAsync<RpcException>(() => client.GetAsync(new GetRequest { UserId = 0 }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        // Cap 1: the second held mention overflows.
        await client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 2, MessageId = 10, UserIds = { 1 } });
        await client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 2, MessageId = 11, UserIds = { 1 } });

        // A flush records its store-write duration inside the store call, then counts the flushed users, then
        // the batch size: a scrape may land between them, so wait for all three.
        var text = await ScrapeUntilAsync(port, t =>
            t.Value("readstates_cache_hits_total") >= 3 && t.Value("readstates_store_write_duration_seconds_count") >= 1
            && t.Value("readstates_store_flushed_users_total") >= 1 && t.Value("readstates_flush_batch_users_count") >= 1);

        AssertWellFormed(text);
        // Types and unit-suffixed names.
        Assert.Equal("histogram", text.Types["rpc_server_call_duration_seconds"]);
        Assert.Equal("histogram", text.Types["readstates_store_write_duration_seconds"]);
        Assert.Equal("histogram", text.Types["readstates_store_load_duration_seconds"]);
        Assert.Equal("histogram", text.Types["readstates_flush_batch_users"]);
        Assert.Equal("counter", text.Types["readstates_cache_hits_total"]);
        Assert.Equal("counter", text.Types["readstates_cache_misses_total"]);
        Assert.Equal("counter", text.Types["readstates_cache_loads_total"]);
        Assert.Equal("counter", text.Types["readstates_mentions_overflows_total"]);
        Assert.Equal("gauge", text.Types["readstates_cache_resident_users"]);
        Assert.Equal("gauge", text.Types["readstates_cache_arena_size_bytes"]);
        Assert.Equal("gauge", text.Types["readstates_writebehind_unwritten_age_seconds"]);
        // Runtime and process metrics, once, from .NET's own System.Runtime meter; Kestrel's connections.
        Assert.Equal("counter", text.Types["dotnet_gc_collections_total"]);
        Assert.Equal("counter", text.Types["dotnet_process_cpu_time_seconds_total"]);
        Assert.Contains("dotnet_process_memory_working_set_bytes", text.Types.Keys);
        Assert.Contains("kestrel_active_connections", text.Types.Keys);
        Assert.Equal("gauge", text.Types["dotnet_thread_pool_thread_count"]);
        Assert.Equal("gauge", text.Types["dotnet_thread_pool_queue_length"]);
        Assert.DoesNotContain("dotnet_thread_pool_queue_length_total", text.Types.Keys);
        Assert.DoesNotContain(text.Types.Keys, k => k.StartsWith("process_runtime_", StringComparison.Ordinal) || k.StartsWith("private_", StringComparison.Ordinal));

        // Counts of this service alone (its meters are scoped to its own DI container).
        Assert.Equal(2, text.Value("rpc_server_call_duration_seconds_count", ("rpc_method", Ack), ("rpc_response_status_code", "OK")));
        Assert.Equal(1, text.Value("rpc_server_call_duration_seconds_count", ("rpc_method", "readstates.v1.ReadStates/Get"), ("rpc_response_status_code", "INVALID_ARGUMENT")));
        Assert.Equal(1, text.Value("readstates_cache_misses_total"));
        Assert.Equal(3, text.Value("readstates_cache_hits_total"));
        Assert.Equal(1, text.Value("readstates_cache_loads_total"));
        Assert.Equal(1, text.Value("readstates_store_load_duration_seconds_count", ("outcome", "ok")));
        Assert.Equal(1, text.Value("readstates_mentions_overflows_total"));
        Assert.Equal(1, text.Value("readstates_cache_resident_users"));
        Assert.Equal(1, text.Value("readstates_store_healthy"));
        Assert.True(text.Value("readstates_store_flushed_users_total") >= 1);
        Assert.True(text.Value("readstates_flush_batch_users_count") >= 1);
        Assert.True(text.Value("readstates_cache_arena_size_bytes") > 0);
        Assert.Equal(0, text.Value("readstates_rpc_shed_total"));

        // More calls move the counters, and nothing counted goes backwards.
        for (ulong m = 5; m < 15; m++) await client.AckAsync(new AckRequest { UserId = 1, ChannelId = 2, MessageId = m });
        var later = await ScrapeUntilAsync(port, t => t.Value("readstates_cache_hits_total") >= 13);
        AssertWellFormed(later);
        Assert.Equal(12, later.Value("rpc_server_call_duration_seconds_count", ("rpc_method", Ack), ("rpc_response_status_code", "OK")));
        foreach (var sample in text.Samples.Where(s => text.Types[text.FamilyOf(s)] == "counter" || (text.Types[text.FamilyOf(s)] == "histogram" && s.Name.EndsWith("_count", StringComparison.Ordinal))))
        {
            double after = later.Samples.Where(s => s.Key == sample.Key).Select(s => s.Value).DefaultIfEmpty(double.NaN).Single();
            Assert.True(after >= sample.Value, $"{sample.Key} went from {sample.Value} to {after}");
        }
    }

    [Fact]
    public async Task ShedCalls_AreCounted_ByMethodAndCode()
    {
        using var dir = new TempDir();
        int port = FreeLoopbackPort();
        FaultyStore? store = null;
        await using var service = await RunningService.StartAsync(dir.Path,
            b => b.Services.AddSingleton<IReadStateStore>(sp => store = new FaultyStore(
                new RocksDbStore(new RocksDbStoreOptions { Path = dir.Path, BlockCacheMb = 8 }, sp.GetRequiredService<ILogger<RocksDbStore>>()))),
            "Metrics:Enabled=true", $"Metrics:Port={port}",
            "Engine:Shards=1", "Engine:CapacityStates=64", "Engine:MaxStatesPerUser=8", "Engine:MaxBacklogStates=16",
            "Engine:FlushInterval=00:00:00.050", "Engine:ShutdownFlushTimeout=00:00:20");
        store!.Stall();
        int refused = 0;
        try
        {
            for (ulong user = 1000; user < 1500 && refused < 3; user++)
            {
                try { await service.Client.AckAsync(new AckRequest { UserId = user, ChannelId = 1, MessageId = user }); }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted) { refused++; }
            }
            Assert.Equal(3, refused);
            var text = await ScrapeAsync(port);
            AssertWellFormed(text);
            Assert.Equal(3, text.Value("readstates_rpc_shed_total", ("rpc_method", Ack), ("rpc_response_status_code", "RESOURCE_EXHAUSTED")));
            Assert.Equal(3, text.Value("rpc_server_call_duration_seconds_count", ("rpc_method", Ack), ("rpc_response_status_code", "RESOURCE_EXHAUSTED")));
        }
        finally
        {
            store.Resume();
        }
    }

    [Fact]
    public async Task MetricsDisabled_ServesNoPort()
    {
        using var dir = new TempDir();
        int port = FreeLoopbackPort();
        await using var service = await RunningService.StartAsync(dir.Path, "Metrics:Enabled=false", $"Metrics:Port={port}");
        await service.Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 2, MessageId = 3 });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics")));
    }

    /// <summary>What a Prometheus server needs to ingest the text, and the conventions it expects.</summary>
    private static void AssertWellFormed(PrometheusText text)
    {
        Assert.NotEmpty(text.Samples);
        var series = new HashSet<string>(StringComparer.Ordinal);
        foreach (var sample in text.Samples)
        {
            string family = text.FamilyOf(sample);
            string type = text.Types[family];
            Assert.True(series.Add(sample.Key), $"duplicate series {sample.Key}");
            Assert.False(double.IsNaN(sample.Value), $"{sample.Key} is NaN");
            Assert.True(sample.Value >= 0, $"{sample.Key} is negative: {sample.Value}");
            if (type == "counter") Assert.EndsWith("_total", sample.Name, StringComparison.Ordinal);
            else Assert.False(sample.Name.EndsWith("_total", StringComparison.Ordinal), $"{sample.Name} ends with _total but is a {type}");
            if (type == "histogram") Assert.Matches("_(bucket|sum|count)$", sample.Name);
        }
        // Durations in seconds, sizes in bytes: no milliseconds or unitless time/size names.
        Assert.DoesNotContain(text.Types.Keys, k => k.Contains("_milliseconds", StringComparison.Ordinal) || k.EndsWith("_ms", StringComparison.Ordinal));
        Assert.All(text.Types.Keys.Where(k => k.Contains("duration", StringComparison.Ordinal)), k => Assert.EndsWith("_seconds", k, StringComparison.Ordinal));
    }
}
