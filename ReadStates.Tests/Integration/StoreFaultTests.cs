using Google.Rpc;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;
using static Grpc.Health.V1.HealthCheckResponse.Types;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>
/// The store failing or stalling under the real service: callers get UNAVAILABLE or RESOURCE_EXHAUSTED
/// with a retry hint, health says NOT_SERVING, and once the store is back nothing acknowledged is lost.
/// </summary>
[Collection("Store faults")]
public sealed class StoreFaultTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private FaultyStore _store = null!;
    private RunningService _service = null!;
    private ReadStatesClient Client => _service.Client;

    // One shard of 64 states and a backlog of 16: a few dozen users fill the cache and then the backlog.
    private static readonly string[] SmallEngine =
    [
        "Engine:Shards=1", "Engine:CapacityStates=64", "Engine:MaxStatesPerUser=8", "Engine:MaxBacklogStates=16",
        "Engine:FlushInterval=00:00:00.050", "Engine:MaxRetryDelay=00:00:00.100", "Engine:ShutdownFlushTimeout=00:00:20",
        "Health:ReadinessMaxFlushAge=00:00:00.500",
    ];

    public async Task InitializeAsync()
    {
        _service = await RunningService.StartAsync(_dir.Path, builder => builder.Services.AddSingleton<IReadStateStore>(sp =>
            _store = new FaultyStore(new RocksDbStore(new RocksDbStoreOptions { Path = _dir.Path, BlockCacheMb = 8 }, sp.GetRequiredService<ILogger<RocksDbStore>>()))),
            SmallEngine);
        Assert.NotNull(_store);
    }

    public async Task DisposeAsync()
    {
        _store.FailLoads = false;
        _store.FailWrites = false;
        _store.Resume();
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<ServingStatus> HealthAsync(string service = "") =>
        (await new Health.HealthClient(_service.Channel).CheckAsync(new HealthCheckRequest { Service = service })).Status;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Acks users 1000, 1001, … until the service refuses; returns the refusal and the users acked.</summary>
    private async Task<(RpcException Refusal, List<ulong> Acked)> AckUntilRefusedAsync()
    {
        var acked = new List<ulong>();
        for (ulong user = 1000; user < 1500; user++)
        {
            try
            {
                await Client.AckAsync(new AckRequest { UserId = user, ChannelId = 1, MessageId = user });
                acked.Add(user);
            }
            catch (RpcException ex)
            {
                return (ex, acked);
            }
        }
        throw new Xunit.Sdk.XunitException("The service never pushed back.");
    }

    private static void AssertRetryHint(RpcException ex)
    {
        var retry = ex.GetRpcStatus()?.GetDetail<RetryInfo>();
        Assert.NotNull(retry);
        Assert.True(retry.RetryDelay.ToTimeSpan() > TimeSpan.Zero);
    }

    [Fact]
    public async Task FailingLoad_IsUnavailable_WithRetryHint_AndWorksOnceTheStoreIsBack()
    {
        _store.FailLoads = true;

        var ex = await Assert.ThrowsAsync<RpcException>(() => Client.GetAsync(new GetRequest { UserId = 42 }).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        AssertRetryHint(ex);
        _store.FailLoads = false;
        Assert.Empty((await Client.GetAsync(new GetRequest { UserId = 42 })).States);
    }

    [Fact]
    public async Task FailingWrites_MakeHealthNotServing_ThenFullBacklogIsUnavailable_AndNothingIsLostAfterRecovery()
    {
        _store.FailWrites = true;
        await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 1, MessageId = 1 });
        await WaitUntilAsync(async () => await HealthAsync() == ServingStatus.NotServing, "health reports NOT_SERVING");

        var (refusal, acked) = await AckUntilRefusedAsync();

        Assert.Equal(StatusCode.Unavailable, refusal.StatusCode);
        AssertRetryHint(refusal);
        Assert.NotEmpty(acked);

        _store.FailWrites = false;
        await WaitUntilAsync(async () => await HealthAsync() == ServingStatus.Serving, "health reports SERVING again");
        await WaitUntilAsync(async () =>
        {
            try { await Client.AckAsync(new AckRequest { UserId = 2, ChannelId = 1, MessageId = 1 }); return true; }
            catch (RpcException) { return false; }
        }, "acks are accepted again");
        await AssertEveryAckSurvivesARestartAsync(acked);
    }

    [Fact]
    public async Task StalledStore_FullBacklogIsResourceExhausted_AndNothingIsLostAfterRecovery()
    {
        _store.Stall();
        await Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 1, MessageId = 1 });
        await WaitUntilAsync(() => Task.FromResult(_store.WritesStarted > 0), "a write is in flight");

        var (refusal, acked) = await AckUntilRefusedAsync();

        Assert.Equal(StatusCode.ResourceExhausted, refusal.StatusCode);
        AssertRetryHint(refusal);
        // A stalled store is not keeping up either: readiness gives up after its bound; liveness never does.
        await WaitUntilAsync(async () => await HealthAsync("readiness") == ServingStatus.NotServing, "readiness reports NOT_SERVING");
        Assert.Equal(ServingStatus.Serving, await HealthAsync("liveness"));

        _store.Resume();
        await AssertEveryAckSurvivesARestartAsync(acked);
    }

    private async Task AssertEveryAckSurvivesARestartAsync(List<ulong> acked)
    {
        await _service.DisposeAsync();
        _service = await RunningService.StartAsync(_dir.Path, SmallEngine);
        foreach (ulong user in acked)
        {
            var state = (await Client.GetAsync(new GetRequest { UserId = user })).States.Single();
            Assert.Equal(user, state.LastMessageId);
        }
    }
}
