using ReadStates.Bench.Shared;
using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;

namespace ReadStates.Bench.Micro;

/// <summary>Builds the engine and the class-per-user baselines over the same population.</summary>
internal static class Fixtures
{
    public static EngineOptions Options(long capacityStates, int shards = 0, int maxStatesPerUser = 1000) => new()
    {
        CapacityStates = capacityStates,
        Shards = shards,
        MaxStatesPerUser = maxStatesPerUser,
        MentionIdCap = 100,
        FlushInterval = TimeSpan.FromMilliseconds(200),
        MaxBacklogStates = 50_000_000,
    };

    /// <summary>Users 1..users, each with channels 1..channels acked at message 1 (one bulk ack per user).</summary>
    public static void Fill(ReadStateEngine engine, int users, int channels)
    {
        var commands = new AckCommand[channels];
        var results = new AckResult[channels];
        for (int c = 0; c < channels; c++) commands[c] = new AckCommand { ChannelId = (ulong)c + 1, MessageId = 1 };
        for (ulong u = 1; u <= (ulong)users; u++) engine.BulkAckAsync(u, commands, results).AsTask().GetAwaiter().GetResult();
    }

    public static void Fill(IUserCache cache, int users, int channels)
    {
        for (ulong u = 1; u <= (ulong)users; u++)
        {
            var user = cache.GetOrAdd(u);
            for (int c = 1; c <= channels; c++) user.Ack((ulong)c, 1);
        }
    }

    /// <summary>Writes users 1..users with channels 1..channels straight into a store, in batches.</summary>
    public static void FillStore(IReadStateStore store, int users, int channels)
    {
        var batch = new StateBatch();
        for (ulong u = 1; u <= (ulong)users; u++)
        {
            batch.BeginUser(u, 1);
            for (int c = 1; c <= channels; c++)
                batch.AddState(new ReadState { ChannelId = (ulong)c, LastMessageId = 1, Version = 1 }, 0, 0, default);
            if (batch.UserCount == 512 || u == (ulong)users)
            {
                store.WriteAsync(batch, default).GetAwaiter().GetResult();
                batch.Clear();
            }
        }
    }

    public static (IReadStateStore Store, string? Dir) OpenStore(string kind)
    {
        if (kind == "memory") return (new InMemoryStore(), null);
        string dir = Path.Combine(Path.GetTempPath(), "readstates-bench-" + Guid.NewGuid().ToString("N"));
        return (new RocksDbStore(new RocksDbStoreOptions { Path = dir, BlockCacheMb = 256 }), dir);
    }

    public static async Task CloseStore(IReadStateStore store, string? dir)
    {
        await store.DisposeAsync();
        if (dir is not null && Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}
