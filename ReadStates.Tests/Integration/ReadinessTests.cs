using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace ReadStates.Tests.Integration;

/// <summary>
/// Liveness against readiness through the real service and a store that fails on demand: while writes
/// fail, readiness (and "" and the API's name) turn NOT_SERVING once changes have waited past
/// Health:ReadinessMaxFlushAge, liveness stays SERVING (restarting would lose the changes), and
/// readiness returns once the store heals and a flush pass writes everything.
/// </summary>
[Collection("Store faults")]
public sealed class ReadinessTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private FaultyStore _store = null!;
    private RunningService _service = null!;

    public async Task InitializeAsync()
    {
        _service = await RunningService.StartAsync(_dir.Path, builder => builder.Services.AddSingleton<IReadStateStore>(sp =>
            _store = new FaultyStore(new RocksDbStore(new RocksDbStoreOptions { Path = _dir.Path, BlockCacheMb = 8 }, sp.GetRequiredService<ILogger<RocksDbStore>>()))),
            "Engine:FlushInterval=00:00:00.050", "Engine:MaxRetryDelay=00:00:00.100", "Health:ReadinessMaxFlushAge=00:00:00.600");
    }

    public async Task DisposeAsync()
    {
        _store.FailWrites = false;
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<ServingStatus> StatusAsync(string service) =>
        (await new Health.HealthClient(_service.Channel).CheckAsync(new HealthCheckRequest { Service = service })).Status;

    private async Task WaitForAsync(string service, ServingStatus expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await StatusAsync(service) != expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"'{service}' never became {expected}");
            await Task.Delay(25);
        }
    }

    [Fact]
    public async Task FailingWrites_MakeReadinessNotServing_LivenessStaysServing_AndReadinessReturnsWhenTheStoreHeals()
    {
        await _service.Client.AckAsync(new AckRequest { UserId = 7, ChannelId = 1, MessageId = 1 });
        await WaitForAsync("readiness", ServingStatus.Serving);

        _store.FailWrites = true;
        await _service.Client.AckAsync(new AckRequest { UserId = 7, ChannelId = 1, MessageId = 2 });
        var failingSince = DateTime.UtcNow;
        await WaitForAsync("readiness", ServingStatus.NotServing);

        // Not before the bound: one failed write alone does not take the pod out of service.
        Assert.True(DateTime.UtcNow - failingSince >= TimeSpan.FromMilliseconds(400), "readiness dropped before Health:ReadinessMaxFlushAge");
        Assert.Equal(ServingStatus.NotServing, await StatusAsync(""));
        Assert.Equal(ServingStatus.NotServing, await StatusAsync("readstates.v1.ReadStates"));
        Assert.Equal(ServingStatus.Serving, await StatusAsync("liveness"));
        // Still answering from memory while not ready: the change is held, not lost.
        Assert.Equal(2ul, (await _service.Client.GetAsync(new GetRequest { UserId = 7 })).States.Single().LastMessageId);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(ServingStatus.Serving, await StatusAsync("liveness"));
            await Task.Delay(50);
        }

        _store.FailWrites = false;
        await WaitForAsync("readiness", ServingStatus.Serving);
        Assert.Equal(ServingStatus.Serving, await StatusAsync(""));
        Assert.Equal(ServingStatus.Serving, await StatusAsync("liveness"));
    }
}
