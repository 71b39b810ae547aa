using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;

namespace ReadStates.Tests.Integration;

/// <summary>
/// A graceful stop while the store refuses every write loses nothing acknowledged: durable mode keeps
/// its log, deferred mode writes what is left to the change log, and the next start (store healthy)
/// writes it all before serving.
/// </summary>
[Collection("Store faults")]
public sealed class StopDuringOutageTests
{
    [Theory]
    [InlineData("durable")]
    [InlineData("deferred")]
    public async Task GracefulStop_WhileTheStoreFails_ThenRestart_KeepsEveryAcknowledgedChange(string mode)
    {
        using var dir = new TempDir();
        string[] settings = [$"Engine:Durability={mode}", "Engine:FlushInterval=00:00:00.100", "Engine:MaxRetryDelay=00:00:00.050", "Engine:ShutdownFlushTimeout=00:00:00.500"];
        FaultyStore? store = null;
        var service = await RunningService.StartAsync(dir.Path, builder => builder.Services.AddSingleton<IReadStateStore>(sp =>
            store = new FaultyStore(new RocksDbStore(new RocksDbStoreOptions { Path = dir.Path, BlockCacheMb = 8 }, sp.GetRequiredService<ILogger<RocksDbStore>>()))),
            settings);
        for (ulong user = 1; user <= 50; user++) await service.Client.AckAsync(new AckRequest { UserId = user, ChannelId = 1, MessageId = user });
        await service.Client.FlushForTestAsync(); // the first 50 reach the store
        store!.FailWrites = true;
        for (ulong user = 1; user <= 200; user++)
            await service.Client.AckAsync(new AckRequest { UserId = user, ChannelId = 2, MessageId = 1000 + user });
        await service.Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 2, MessageId = 5000, UserIds = { 7, 8, 9 } });
        await service.DisposeAsync(); // the final flush gives up after 0.5 s of failures
        var left = Directory.GetFiles(Path.Combine(dir.Path, "changelog"), "segment-*");
        Assert.NotEmpty(left); // what the store did not take is in the log

        await using var restarted = await RunningService.StartAsync(dir.Path, settings);
        for (ulong user = 1; user <= 200; user++)
        {
            var got = await restarted.Client.GetAsync(new GetRequest { UserId = user });
            Assert.Equal(1000 + user, got.States.Single(s => s.ChannelId == 2).LastMessageId);
            if (user <= 50) Assert.Equal(user, got.States.Single(s => s.ChannelId == 1).LastMessageId);
            Assert.Equal(user is >= 7 and <= 9 ? 1UL : 0UL, got.TotalMentions);
        }
        Assert.All(left, path => Assert.False(File.Exists(path), $"{path} was replayed, so it should be gone"));
    }
}

internal static class FlushHelpers
{
    /// <summary>Waits a few flush intervals (100 ms here) so that write-behind has run.</summary>
    public static Task FlushForTestAsync(this ReadStates.Api.V1.ReadStates.ReadStatesClient client) => Task.Delay(500);
}
