using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using ReadStates.Api.V1;
using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace ReadStates.Tests.Integration;

/// <summary>
/// RocksDB stops writing (disk full, I/O error) under the real service: acks keep being answered from
/// memory, health says NOT_SERVING, the engine retries, and once the cause clears the store reopens by
/// itself, the retried writes land, health says SERVING, and every acknowledged change survives a restart.
/// </summary>
[Collection("Store faults")]
public sealed class DiskFullTests
{
    private const string NoSpace = "IO error: No space left on device: While appending to file: 000004.log: No space left on device (injected)";

    private static readonly string[] QuickRetries =
    [
        "Engine:FlushInterval=00:00:00.050", "Engine:MaxRetryDelay=00:00:00.200", "Engine:ShutdownFlushTimeout=00:00:20",
        "Engine:CapacityStates=400000", "Engine:MaxStatesPerUser=1000",
    ];

    private static ulong MessageId(ulong user, ulong channel) => user * 1_000_000 + channel;

    private static async Task AckUserAsync(RunningService service, ulong user, int channels, int firstChannel = 1)
    {
        var request = new BulkAckRequest { UserId = user };
        for (ulong c = (ulong)firstChannel; c <= (ulong)channels; c++) request.Entries.Add(new BulkAckEntry { ChannelId = c, MessageId = MessageId(user, c) });
        var response = await service.Client.BulkAckAsync(request);
        Assert.All(response.Results, r => Assert.True(r.Applied));
    }

    private static async Task<ServingStatus> HealthAsync(RunningService service) =>
        (await new Health.HealthClient(service.Channel).CheckAsync(new HealthCheckRequest())).Status;

    private static EngineStats Stats(RunningService service) => service.Services.GetRequiredService<ReadStateEngine>().GetStats();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    private static async Task AssertEveryAckSurvivesARestartAsync(RunningService service, string dataDir, IReadOnlyList<(ulong User, int Channels)> acked)
    {
        await service.DisposeAsync();
        await using var restarted = await RunningService.StartAsync(dataDir, QuickRetries);
        foreach (var (user, channels) in acked)
        {
            var states = (await restarted.Client.GetAsync(new GetRequest { UserId = user })).States;
            Assert.Equal(channels, states.Count);
            foreach (var s in states) Assert.Equal(MessageId(user, s.ChannelId), s.LastMessageId);
        }
    }

    [Fact]
    public async Task StickyNoSpace_ThenAFailedReopen_LoadsFailCleanly_ThenTheStoreReopens_AndNothingAckedIsLost()
    {
        using var dir = new TempDir();
        string data = Path.Combine(dir.Path, "data");
        var service = await RunningService.StartAsync(data, QuickRetries);
        var acked = new List<(ulong, int)>();
        try
        {
            var db = ((RocksDbStore)service.Services.GetRequiredService<IReadStateStore>()).Database;
            db.ReopenInterval = TimeSpan.FromMilliseconds(100);
            for (ulong u = 1; u <= 10; u++) { await AckUserAsync(service, u, 5); acked.Add((u, 5)); }

            // The disk fills: RocksDB refuses every write from now on, and there is no room to reopen.
            long free = 0;
            db.FreeSpace = _ => Volatile.Read(ref free);
            db.Current!.InjectedWriteError = NoSpace;
            for (ulong u = 11; u <= 30; u++) { await AckUserAsync(service, u, 5); acked.Add((u, 5)); }
            await WaitUntilAsync(async () => await HealthAsync(service) == ServingStatus.NotServing, "health reports NOT_SERVING");
            long failures = Stats(service).StoreWriteFailures;
            await WaitUntilAsync(() => Task.FromResult(Stats(service).StoreWriteFailures > failures + 2), "the engine retries");
            Assert.Equal(1, db.Current!.Generation); // kept open: loads still work
            Assert.Empty((await service.Client.GetAsync(new GetRequest { UserId = 999 })).States);

            // Space is back but the database cannot be opened (its directory is replaced by a file): closed.
            Directory.Move(data, data + ".away");
            await File.WriteAllTextAsync(data, "not a directory");
            Volatile.Write(ref free, long.MaxValue);
            await WaitUntilAsync(() => Task.FromResult(db.Current is null), "the store closes for a reopen that fails");
            var load = await Assert.ThrowsAsync<RpcException>(() => service.Client.GetAsync(new GetRequest { UserId = 998 }).ResponseAsync);
            Assert.Equal(StatusCode.Unavailable, load.StatusCode);
            // Resident users still take changes (kept in memory); a user who must be loaded cannot.
            for (ulong u = 1; u <= 10; u++) { await AckUserAsync(service, u, 8, firstChannel: 6); acked[(int)u - 1] = (u, 8); }

            File.Delete(data);
            Directory.Move(data + ".away", data);
            await WaitUntilAsync(async () => await HealthAsync(service) == ServingStatus.Serving, "health reports SERVING again");
            Assert.True(db.Current!.Generation >= 2);
            Assert.Empty((await service.Client.GetAsync(new GetRequest { UserId = 998 })).States);
            for (ulong u = 41; u <= 50; u++) { await AckUserAsync(service, u, 5); acked.Add((u, 5)); }
        }
        finally
        {
            if (File.Exists(data)) { File.Delete(data); Directory.Move(data + ".away", data); }
        }
        await AssertEveryAckSurvivesARestartAsync(service, data, acked);
    }

    [SkippableFact]
    public async Task RealFullDisk_WritesFail_ThenSpaceIsFreed_TheStoreReopens_AndEveryAckSurvivesARestart()
    {
        using var tmpfs = TmpfsMount.TryMount(20, out string whyNot);
        Skip.If(tmpfs is null, whyNot);
        string data = Path.Combine(tmpfs.Path, "data");
        string ballast = Path.Combine(tmpfs.Path, "ballast");
        var service = await RunningService.StartAsync(data, QuickRetries);
        var acked = new List<(ulong User, int Channels)>();
        const int Channels = 200;

        // Leave ~1 MiB, then fill it through the service's own writes until RocksDB fails.
        tmpfs.FillLeaving(ballast, 1 << 20);
        ulong user = 1;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Stats(service).StoreWriteFailures == 0)
        {
            Assert.True(DateTime.UtcNow < deadline && user < 5000, $"the store never failed; {tmpfs.FreeBytes} bytes free after {user} users");
            await AckUserAsync(service, user, Channels);
            acked.Add((user++, Channels));
            await Task.Delay(5);
        }
        await WaitUntilAsync(async () => await HealthAsync(service) == ServingStatus.NotServing, "health reports NOT_SERVING");
        for (int i = 0; i < 20; i++) { await AckUserAsync(service, user, Channels); acked.Add((user++, Channels)); }
        long failures = Stats(service).StoreWriteFailures;
        await WaitUntilAsync(() => Task.FromResult(Stats(service).StoreWriteFailures >= failures + 3), "the engine retries while the disk is full");
        Assert.Equal(ServingStatus.NotServing, await HealthAsync(service));

        File.Delete(ballast);
        await WaitUntilAsync(async () => await HealthAsync(service) == ServingStatus.Serving, "health reports SERVING once space is free");
        await WaitUntilAsync(() => Task.FromResult(Stats(service) is { QueuedDirtyUsers: 0, EvictedDirtyUsers: 0 }), "every retried write has landed");
        var db = ((RocksDbStore)service.Services.GetRequiredService<IReadStateStore>()).Database;
        Assert.True(db.Current!.Generation >= 2, "the database was reopened");

        await AssertEveryAckSurvivesARestartAsync(service, data, acked);
    }
}
