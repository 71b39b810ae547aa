using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using ReadStates.Bench.Cli;
using ReadStates.Core;
using ReadStates.Hosting;

namespace ReadStates.Bench.Watch;

/// <summary>
/// Managed bytes per Watch subscription, measured on the real service hosted in this process (Kestrel on a
/// loopback port, RocksDB in a temp directory), subscribed through real streams: heap after a full
/// collection with nothing loaded, after a Get of every user (each never-seen user becomes resident: the
/// cache's cost, not Watch's), and while subscribed (the subscription's own objects and index entries).
/// </summary>
internal static class WatchMemory
{
    public static async Task<int> RunAsync(ParsedArgs a)
    {
        long subscribers = a.Long("subscribers");
        int streamCount = a.Int("streams");
        string dir = Path.Combine(Path.GetTempPath(), "readstates-watch-mem-" + Guid.NewGuid().ToString("N"));
        var app = ReadStatesHost.Build(["--urls=http://127.0.0.1:0", $"--Storage:RocksDb:Path={dir}", "--Metrics:Enabled=false",
            "--Logging:LogLevel:Default=Warning", $"--Service:MaxWatchSubscriptions={Math.Max(1000, subscribers)}"]);
        try
        {
            await app.StartAsync();
            string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
            var engine = app.Services.GetRequiredService<ReadStateEngine>();
            await using var streams = new WatchStreams(address, streamCount, subscribers, tracker: null);
            await Task.Delay(500);
            long empty = Heap();
            await LoadAllAsync(address, subscribers);
            long resident = Heap();
            await streams.SubscribeAsync(subscribers);
            if (!await streams.WaitForConfirmationsAsync(subscribers, TimeSpan.FromMinutes(5))) return Fail("subscriptions were not confirmed");
            long subscribed = Heap();
            var stats = engine.GetStats();
            Console.WriteLine($"{subscribers:N0} subscriptions over {streamCount} streams (in-process service, managed heap after a full GC):");
            Console.WriteLine($"  per subscription: {(double)(subscribed - resident) / subscribers:0} B ({(subscribed - resident) / 1048576.0:0.0} MiB in all)");
            Console.WriteLine($"  per never-seen user made resident by its first read (the cache, not Watch): {(double)(resident - empty) / subscribers:0} B");
            Console.WriteLine($"  watched users {stats.WatchedUsers:N0}, resident users {stats.ResidentUsers:N0}");
            Console.WriteLine($"  /proc/loadavg: {WatchCommand.LoadAvg()}");
            return 0;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>A Get of every user, 64 at a time, so that they are resident before the subscriptions are measured.</summary>
    private static async Task LoadAllAsync(string address, long users)
    {
        using var channel = WatchLoadTarget.Channel(address);
        var client = new ReadStates.Api.V1.ReadStates.ReadStatesClient(channel);
        await Parallel.ForAsync(1L, users + 1, new ParallelOptions { MaxDegreeOfParallelism = 64 },
            async (u, ct) => await client.GetAsync(new ReadStates.Api.V1.GetRequest { UserId = (ulong)u }, cancellationToken: ct));
    }

    private static int Fail(string why)
    {
        Console.Error.WriteLine("watch --memory: " + why);
        return 1;
    }

    private static long Heap()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
