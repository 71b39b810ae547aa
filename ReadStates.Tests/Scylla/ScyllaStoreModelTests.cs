using ReadStates.Core;
using ReadStates.Cql;
using ReadStates.Core.Storage;
using ReadStates.Tests.Cql.Server;
using static ReadStates.Tests.Scylla.ScyllaTestSupport;

namespace ReadStates.Tests.Scylla;

/// <summary>Random flushes (upserts, deletes, duplicate channels, big mention lists) against a dictionary model.</summary>
public class ScyllaStoreModelTests
{
    private sealed record ModelState(ReadState State, int OverflowCount, ulong OverflowMaxId, ulong[] Mentions);

    [Fact]
    public async Task RandomFlushes_LoadBackExactlyWhatAModelHolds()
    {
        await using var server = new CqlTestServer(new CqlTestServerOptions { ShardCount = 3 });
        await using var store = await CreateAsync(server, o =>
        {
            o.PageSize = 9;
            o.MaxStatementsPerBatch = 12;
            o.MaxBatchBytes = 4096;
        });
        var rng = new Random(20261127);
        var model = new Dictionary<ulong, (ulong Version, ulong Floor, SortedDictionary<ulong, ModelState> States)>();
        var batch = new StateBatch();
        ulong version = 0;
        for (int round = 0; round < 25; round++)
        {
            batch.Clear();
            foreach (ulong user in Enumerable.Range(0, rng.Next(1, 12)).Select(_ => (ulong)rng.Next(1, 30)).Distinct())
            {
                version++;
                batch.BeginUser(user, version);
                if (!model.TryGetValue(user, out var m)) model[user] = m = (0, 0, new SortedDictionary<ulong, ModelState>());
                // Now and then the user's sync floor rises: its tombstones at or below it are forgotten.
                ulong floor = rng.Next(4) == 0 ? version : m.Floor;
                batch.RaiseSyncFloor(floor); // the engine sends every user's floor with every write
                int changes = rng.Next(0, 30);
                for (int i = 0; i < changes; i++)
                {
                    ulong channel = rng.Next(10) == 0 ? ulong.MaxValue - (ulong)rng.Next(5) : (ulong)rng.Next(1, 40);
                    if (rng.Next(5) == 0)
                    {
                        var tombstone = ReadState.Tombstone(channel, version, rng.NextInt64(1, 2_000_000_000_000));
                        batch.AddState(tombstone, 0, 0, []);
                        m.States[channel] = new ModelState(tombstone, 0, 0, []);
                        continue;
                    }
                    var mentions = Enumerable.Range(0, rng.Next(0, 4) == 0 ? rng.Next(0, 300) : rng.Next(0, 3))
                        .Select(_ => (ulong)rng.NextInt64(1, long.MaxValue)).Order().ToArray();
                    var state = State(channel, version, lastMessage: (ulong)rng.NextInt64(), mentions: mentions.Length,
                        type: (ReadStateType)rng.Next(6), parent: (ulong)rng.Next(0, 5), flags: (ReadStateFlags)rng.Next(8),
                        pin: rng.NextInt64(0, 2_000_000_000_000), viewed: rng.Next());
                    int overflow = rng.Next(4) == 0 ? rng.Next(1, 50) : 0;
                    ulong overflowMax = overflow > 0 ? (ulong)rng.NextInt64() : 0;
                    batch.AddState(state, overflow, overflowMax, mentions);
                    m.States[channel] = new ModelState(state, overflow, overflowMax, mentions);
                }
                model[user] = (version, floor, m.States);
            }
            await store.WriteAsync(batch, Timeout());

            foreach (var (user, expected) in model)
            {
                var loaded = await LoadAsync(store, user);
                var entry = Assert.Single(loaded.Users.ToArray());
                Assert.Equal((expected.Version, expected.Floor), (entry.Version, entry.SyncFloor));
                var states = loaded.StatesOf(entry).ToArray();
                // Tombstones above the floor come back (with version and deletion time); at or below it they are gone.
                Assert.Equal(expected.States.Where(kv => !(kv.Value.State.IsDeleted && kv.Value.State.Version <= expected.Floor)).Select(kv => kv.Key),
                    states.Select(s => s.State.ChannelId));
                foreach (var s in states)
                {
                    var want = expected.States[s.State.ChannelId];
                    var got = s.State;
                    Assert.Equal((want.State.LastMessageId, want.State.MentionCount, want.State.Type, want.State.ParentId, want.State.Flags, want.State.LastPinTimestamp, want.State.LastViewed, want.State.Version),
                        (got.LastMessageId, got.MentionCount, got.Type, got.ParentId, got.Flags, got.LastPinTimestamp, got.LastViewed, got.Version));
                    Assert.Equal((want.OverflowCount, want.OverflowMaxId), (s.OverflowCount, s.OverflowMaxId));
                    Assert.Equal(want.Mentions, loaded.MentionsOf(s).ToArray());
                }
            }
        }
        Assert.Equal(0, server.Tables.CountNullCells("readstates", "read_states"));
    }

    [Fact]
    public async Task FlushesUnderRandomFaults_RetriedLikeTheEngine_LoseNothing()
    {
        await using var server = new CqlTestServer();
        await using var store = await CreateAsync(server, o =>
        {
            o.MaxRetries = 1;
            o.RequestTimeout = TimeSpan.FromSeconds(5);
            o.WriteConcurrency = 4;
        });
        var rng = new Random(7);
        var expected = new Dictionary<ulong, (ulong Version, ulong LastMessage)>();
        var batch = new StateBatch();
        int failures = 0;
        for (int round = 1; round <= 12; round++)
        {
            batch.Clear();
            for (ulong user = 1; user <= 40; user++)
            {
                ulong version = (ulong)round;
                batch.BeginUser(user, version);
                ulong last = (ulong)(round * 1000 + (int)user);
                batch.AddState(State(7, version, lastMessage: last), 0, 0, []);
                expected[user] = (version, last);
            }
            server.DelayReplies(20, TimeSpan.FromMilliseconds(20));
            var write = store.WriteAsync(batch, Timeout());
            await Task.Delay(rng.Next(0, 40));
            switch (rng.Next(4))
            {
                case 0: server.DropConnections(); break;
                case 1: server.Restart(); break;
                case 2: server.FailNext(rng.Next(1, 6), CqlErrorCode.Overloaded); break;
            }
            // The engine's part: retry the whole (idempotent) batch with backoff until it is written.
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    await write;
                    break;
                }
                catch (CqlException ex) when (ex.IsTransient && attempt < 20)
                {
                    failures++;
                    await Task.Delay(50);
                    write = store.WriteAsync(batch, Timeout());
                }
            }
            server.FailNext(0);
        }
        foreach (var (user, want) in expected)
        {
            var loaded = await LoadAsync(store, user);
            Assert.Equal(want.Version, loaded.Users[0].Version);
            Assert.Equal(want.LastMessage, Assert.Single(loaded.States.ToArray()).State.LastMessageId);
        }
        Assert.True(failures < 12 * 20);
    }
}
