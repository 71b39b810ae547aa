using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>
/// proto/readstates/v1/service_config.json, the client retry policy shipped beside the proto: it names
/// only unary methods that exist, retries only UNAVAILABLE and RESOURCE_EXHAUSTED, and a real gRPC client
/// configured from it rides out a failed store load (honouring the server's grpc-retry-pushback-ms).
/// </summary>
[Collection("Store faults")]
public sealed class ServiceConfigTests
{
    private static readonly string ConfigPath = Path.Combine(FindRepositoryRoot(), "proto", "readstates", "v1", "service_config.json");

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "buf.yaml"))) return dir.FullName;
        throw new InvalidOperationException("buf.yaml not found above " + AppContext.BaseDirectory);
    }

    private static JsonElement Config() => JsonDocument.Parse(File.ReadAllText(ConfigPath)).RootElement;

    private static TimeSpan Duration(JsonElement e) =>
        TimeSpan.FromSeconds(double.Parse(e.GetString()!.TrimEnd('s'), CultureInfo.InvariantCulture));

    /// <summary>The shipped JSON as grpc-dotnet's typed service config (grpc-dotnet reads no JSON itself).</summary>
    private static ServiceConfig Load()
    {
        var json = Config();
        var config = new ServiceConfig();
        foreach (var m in json.GetProperty("methodConfig").EnumerateArray())
        {
            var method = new MethodConfig();
            foreach (var n in m.GetProperty("name").EnumerateArray())
                method.Names.Add(new MethodName { Service = n.GetProperty("service").GetString(), Method = n.GetProperty("method").GetString() });
            var r = m.GetProperty("retryPolicy");
            var retry = new RetryPolicy
            {
                MaxAttempts = r.GetProperty("maxAttempts").GetInt32(),
                InitialBackoff = Duration(r.GetProperty("initialBackoff")),
                MaxBackoff = Duration(r.GetProperty("maxBackoff")),
                BackoffMultiplier = r.GetProperty("backoffMultiplier").GetDouble(),
            };
            foreach (var code in r.GetProperty("retryableStatusCodes").EnumerateArray())
                retry.RetryableStatusCodes.Add(Enum.Parse<StatusCode>(code.GetString()!.Replace("_", "", StringComparison.Ordinal), ignoreCase: true));
            method.RetryPolicy = retry;
            config.MethodConfigs.Add(method);
        }
        var t = json.GetProperty("retryThrottling");
        config.RetryThrottling = new RetryThrottlingPolicy { MaxTokens = t.GetProperty("maxTokens").GetInt32(), TokenRatio = t.GetProperty("tokenRatio").GetDouble() };
        return config;
    }

    [Fact]
    public void ServiceConfig_NamesOnlyUnaryMethodsThatExist_AndRetriesOnlyUnavailableAndResourceExhausted()
    {
        var service = ReadStates.Api.V1.ReadStates.Descriptor;
        var config = Load();
        var named = config.MethodConfigs.SelectMany(m => m.Names).ToList();
        Assert.NotEmpty(named);
        foreach (var name in named)
        {
            Assert.Equal(service.FullName, name.Service);
            var method = service.FindMethodByName(name.Method);
            Assert.True(method is not null, $"{name.Method} is not a method of {service.FullName}");
            Assert.False(method.IsClientStreaming || method.IsServerStreaming, $"{name.Method} streams; retries would replay it");
        }
        Assert.Contains(named, n => n.Method == "Ack");
        Assert.Contains(named, n => n.Method == "AddMentions");
        Assert.All(config.MethodConfigs, m => Assert.Equal([StatusCode.Unavailable, StatusCode.ResourceExhausted], m.RetryPolicy!.RetryableStatusCodes));
        Assert.All(config.MethodConfigs, m => Assert.InRange(m.RetryPolicy!.MaxAttempts ?? 0, 2, 5));
    }

    [Fact]
    public async Task AClientWithTheServiceConfig_RetriesAFailedLoad_AfterTheServersPushback_AndSucceeds()
    {
        using var dir = new TempDir();
        FaultyStore? store = null;
        await using var service = await RunningService.StartAsync(dir.Path,
            b => b.Services.AddSingleton<IReadStateStore>(sp => store = new FaultyStore(
                new RocksDbStore(new RocksDbStoreOptions { Path = dir.Path, BlockCacheMb = 8 }, sp.GetRequiredService<ILogger<RocksDbStore>>()))));
        using var channel = GrpcChannel.ForAddress(service.Address, new GrpcChannelOptions { ServiceConfig = Load() });
        var client = new ReadStatesClient(channel);

        // Without the policy the caller sees the refusal, with its pushback trailer.
        store!.FailNextLoads(1);
        var refused = await Assert.ThrowsAsync<RpcException>(() => service.Client.GetAsync(new GetRequest { UserId = 5 }).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Equal("1000", refused.Trailers.GetValue("grpc-retry-pushback-ms"));

        store.FailNextLoads(1);
        int before = store.LoadsStarted;
        var watch = Stopwatch.StartNew();
        var reply = await client.GetAsync(new GetRequest { UserId = 6 });

        Assert.Empty(reply.States);
        Assert.Equal(2, store.LoadsStarted - before); // one refused, one retried
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900), $"the retry came after {watch.ElapsedMilliseconds} ms, before the 1000 ms pushback");
    }
}
