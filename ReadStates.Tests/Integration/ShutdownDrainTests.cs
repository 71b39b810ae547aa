using System.Diagnostics;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>
/// A stop while clients hold calls open: Kestrel's drain is bounded by <c>Service:DrainTimeout</c>, the
/// final flush neither waits behind a long drain nor is cut by its end, and nothing acknowledged is lost.
/// </summary>
[Collection("Store faults")]
public sealed class ShutdownDrainTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string NoPeriodicFlush = "Engine:FlushInterval=00:05:00";
    private const string AckPath = "/readstates.v1.ReadStates/Ack";

    private static async Task AckUsersAsync(ReadStatesClient client, int users)
    {
        for (ulong u = 1; u <= (ulong)users; u++) await client.AckAsync(new AckRequest { UserId = u, ChannelId = 1, MessageId = 1000 + u });
    }

    private static async Task AssertUsersAckedAsync(ReadStatesClient client, int users)
    {
        for (ulong u = 1; u <= (ulong)users; u++)
            Assert.Equal(1000 + u, (await client.GetAsync(new GetRequest { UserId = u })).States.Single().LastMessageId);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Sigterm_WithFloodedConnectionsHoldingCallsOpen_ExitsWithinTheDrainBound_AndKeepsEveryAck()
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0", "--" + NoPeriodicFlush, "--Service:DrainTimeout=00:00:02"]);
        string address = await child.Output.WaitForListeningAddressAsync(TimeSpan.FromSeconds(60));
        using (var channel = GrpcChannel.ForAddress(address))
            await AckUsersAsync(new ReadStatesClient(channel), 200);

        // One connection opens 1,000 calls past the limit of 100; another fills its 100 and keeps them
        // open. Neither ever sends a request body, so the calls they hold would keep a drain waiting.
        await using var flood = await Http2Flood.OpenAsync(new Uri(address), AckPath, 1000);
        await using var held = await Http2Flood.OpenAsync(new Uri(address), AckPath, 100);
        await WaitUntilAsync(() => flood.Resets > 0 || flood.Closed.IsCompleted, "the server refuses streams past its limit");
        await Task.Delay(300);
        Assert.False(held.Closed.IsCompleted, "the connection holding 100 open calls must still be open at SIGTERM");

        var watch = Stopwatch.StartNew();
        child.Terminate();
        int code = await child.ExitCodeAsync(90);
        watch.Stop();
        output.WriteLine($"SIGTERM to exit: {watch.ElapsedMilliseconds} ms (drain bound 2 s)");

        Assert.True(code == 0, $"exit code {code}; output:\n{child.Output.Text}");
        // Before the drain was bounded this took the host's old 45 s shutdown timeout.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(12), $"SIGTERM took {watch.Elapsed.TotalSeconds:F1} s to exit; output:\n{child.Output.Text}");
        Assert.Contains("[5005]", child.Output.Text, StringComparison.Ordinal); // the flush began when the stop did
        await using var restarted = await RunningService.StartAsync(dir.Path, NoPeriodicFlush);
        await AssertUsersAckedAsync(restarted.Client, 200);
    }

    [Fact]
    public async Task FinalFlush_OutlastsTheDrainTimeout_WhenTheStoreIsSlow_AndWritesEverything()
    {
        using var dir = new TempDir();
        FaultyStore store = null!;
        var service = await RunningService.StartAsync(dir.Path, builder => builder.Services.AddSingleton<IReadStateStore>(sp =>
            store = new FaultyStore(new RocksDbStore(new RocksDbStoreOptions { Path = dir.Path, BlockCacheMb = 8 }, sp.GetRequiredService<ILogger<RocksDbStore>>()))),
            NoPeriodicFlush, "Service:DrainTimeout=00:00:00.500", "Engine:ShutdownFlushTimeout=00:00:30");
        await AckUsersAsync(service.Client, 50);

        store.Stall();
        var stop = service.StopAsync();
        await Task.Delay(2000); // four drain timeouts: the host's token has long fired

        Assert.False(stop.IsCompleted, "the stop must wait for the final flush, not end with the drain timeout");
        store.Resume();
        await stop.WaitAsync(TimeSpan.FromSeconds(30));
        await service.DisposeAsync();

        await using var restarted = await RunningService.StartAsync(dir.Path, NoPeriodicFlush);
        await AssertUsersAckedAsync(restarted.Client, 50);
    }
}
