using System.Globalization;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using ReadStates.Api.V1;
using ReadStates.Core;
using ReadStates.Tests.Cql.Server;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace ReadStates.Tests.Integration;

/// <summary>
/// The ScyllaDB store stalls without failing (a paused node, replies later than the request timeout):
/// health turns NOT_SERVING once a flush has been in flight past <c>Engine:StoreStallTimeout</c>, long
/// before the writes give up, and SERVING again once the writes complete; nothing is lost.
/// </summary>
[Collection("Store faults")]
public sealed class ScyllaStallTests
{
    private static string[] Settings(CqlTestServer server, string requestTimeout) =>
    [
        "Storage:Kind=scylla",
        $"Scylla:ContactPoints:0={server.Address}",
        $"Scylla:Port={server.Port.ToString(CultureInfo.InvariantCulture)}",
        "Scylla:ReplicationFactor=1",
        "Scylla:ConnectTimeout=00:00:02",
        $"Scylla:RequestTimeout={requestTimeout}",
        "Engine:FlushInterval=00:00:00.050",
        "Engine:MaxRetryDelay=00:00:00.200",
        "Engine:StoreStallTimeout=00:00:00.500",
    ];

    private static async Task<ServingStatus> HealthAsync(RunningService service) =>
        (await new Health.HealthClient(service.Channel).CheckAsync(new HealthCheckRequest())).Status;

    private static EngineStats Stats(RunningService service) => service.Services.GetRequiredService<ReadStateEngine>().GetStats();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    [Theory]
    [InlineData("paused", "00:00:05")] // every reply held: each request waits out its 5 s timeout, then is retried
    [InlineData("late", "00:00:02")] // every reply 6 s late, past the 2 s request timeout
    public async Task StalledFlush_TurnsHealthNotServing_BeforeWritesGiveUp_AndServingOnceTheyLand(string stall, string requestTimeout)
    {
        await using var server = new CqlTestServer();
        using var dir = new TempDir();
        var service = await RunningService.StartAsync(dir.Path, Settings(server, requestTimeout));
        await using (service)
        {
            // Both users resident, so their acks need no load while the store stalls.
            await service.Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 1, MessageId = 10 });
            await service.Client.AckAsync(new AckRequest { UserId = 2, ChannelId = 1, MessageId = 15 });
            await WaitUntilAsync(() => Task.FromResult(Stats(service).QueuedDirtyUsers == 0), "the first acks are written");
            Assert.Equal(ServingStatus.Serving, await HealthAsync(service));

            if (stall == "paused") server.PauseReplies();
            else server.DelayReplies(1000, TimeSpan.FromSeconds(6));
            await service.Client.AckAsync(new AckRequest { UserId = 2, ChannelId = 1, MessageId = 20 });
            await WaitUntilAsync(async () => await HealthAsync(service) == ServingStatus.NotServing, "health reports NOT_SERVING");

            var stats = Stats(service);
            Assert.True(stats.StoreWriteStalled);
            Assert.Equal(0, stats.StoreWriteFailures); // no write has given up yet: only the stall bound says so

            if (stall == "paused") server.ResumeReplies();
            else server.DelayReplies(0, TimeSpan.Zero);
            await WaitUntilAsync(async () => await HealthAsync(service) == ServingStatus.Serving, "health reports SERVING again");
            await WaitUntilAsync(() => Task.FromResult(Stats(service).QueuedDirtyUsers == 0), "the stalled ack is written");
        }

        await using var restarted = await RunningService.StartAsync(dir.Path, Settings(server, requestTimeout));
        Assert.Equal(10UL, (await restarted.Client.GetAsync(new GetRequest { UserId = 1 })).States.Single().LastMessageId);
        Assert.Equal(20UL, (await restarted.Client.GetAsync(new GetRequest { UserId = 2 })).States.Single().LastMessageId);
    }
}
