using ReadStates.Core;
using ReadStates.Core.Sync;

namespace ReadStates.Tests.Core;

/// <summary>Sync reads, tombstones and the sync floor, conditional writes and change subscriptions, on the engine.</summary>
public sealed class SyncTests
{
    /// <summary>A clock the test moves by hand (only the wall clock; timers stay real).</summary>
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>What a device holds: the version it synced to and the states, kept up to date only by sync answers.</summary>
    private sealed class Device
    {
        public ulong Version;
        public SortedDictionary<ulong, ReadState> States { get; } = [];

        /// <summary>Applies a sync answer; false when the server asked for a resync (nothing applied).</summary>
        public bool Apply(UserSnapshot s)
        {
            if (s.Sync == SyncStatus.ResyncRequired) return false;
            Assert.Equal(SyncStatus.Changes, s.Sync);
            Assert.Equal(Version, s.SinceVersion);
            foreach (var state in s.States.ToArray())
            {
                Assert.True(state.Version > Version && state.Version <= s.Version, $"state v{state.Version} outside ({Version}, {s.Version}]");
                States[state.ChannelId] = state;
            }
            foreach (var d in s.Deleted.ToArray())
            {
                Assert.True(d.Version > Version && d.Version <= s.Version);
                States.Remove(d.ChannelId);
            }
            Version = s.Version;
            return true;
        }

        public void Replace(UserSnapshot full)
        {
            States.Clear();
            foreach (var state in full.States.ToArray()) States[state.ChannelId] = state;
            Version = full.Version;
        }
    }

    private static async Task SyncAsync(ReadStateEngine engine, ulong user, Device device)
    {
        var snapshot = new UserSnapshot();
        await engine.ReadChangesAsync(user, device.Version, default, snapshot);
        if (device.Apply(snapshot)) return;
        await engine.ReadAsync(user, default, snapshot);
        device.Replace(snapshot);
    }

    private static async Task AssertSameAsServer(ReadStateEngine engine, ulong user, Device device)
    {
        var full = await engine.GetAsync(user);
        Assert.Equal(full.Version, device.Version);
        Assert.Equal(full.States, device.States.Values);
    }

    [Fact]
    public async Task ChangesSince_ReturnChangedStatesAndDeletions_WithTheirVersions()
    {
        await using var engine = EngineTestKit.Create(new MemoryStore());
        await engine.Ack(1, 10, 100);
        await engine.Ack(1, 11, 100);
        await engine.Ack(1, 12, 100);
        ulong v3 = (await engine.GetAsync(1)).Version;
        await engine.Ack(1, 11, 200);
        await engine.DeleteAsync(1, new ulong[] { 12 }, all: false);

        var changes = new UserSnapshot();
        await engine.ReadChangesAsync(1, v3, default, changes);

        Assert.Equal(SyncStatus.Changes, changes.Sync);
        Assert.Equal(v3 + 2, changes.Version);
        Assert.Equal([11UL], changes.States.ToArray().Select(s => s.ChannelId));
        Assert.Equal(200UL, changes.States[0].LastMessageId);
        Assert.Equal([new Deletion(12, v3 + 2)], changes.Deleted.ToArray());
        Assert.Equal(2, changes.Totals.States);

        await engine.ReadChangesAsync(1, changes.Version, default, changes);
        Assert.True(changes.States.IsEmpty && changes.Deleted.IsEmpty);
        await engine.ReadChangesAsync(1, v3, new ulong[] { 12, 10 }, changes);
        Assert.True(changes.States.IsEmpty);
        Assert.Equal([12UL], changes.Deleted.ToArray().Select(d => d.ChannelId));
    }

    [Fact]
    public async Task VersionFromTheFuture_IsRefused_AndReadsNothing()
    {
        await using var engine = EngineTestKit.Create(new MemoryStore());
        await engine.Ack(1, 10, 100);
        var snapshot = new UserSnapshot();
        var ahead = await Assert.ThrowsAsync<VersionAheadException>(async () => await engine.ReadChangesAsync(1, 2, default, snapshot));
        Assert.Equal((1UL, 2UL, 1UL), (ahead.UserId, ahead.Since, ahead.Current));
        // A user never seen is at version 0: 0 is fine, 1 is ahead.
        await engine.ReadChangesAsync(99, 0, default, snapshot);
        Assert.Equal((SyncStatus.Changes, 0UL), (snapshot.Sync, snapshot.Version));
        await Assert.ThrowsAsync<VersionAheadException>(async () => await engine.ReadChangesAsync(99, 1, default, snapshot));
    }

    [Fact]
    public async Task Tombstones_SurviveEvictionReloadAndReopen_SoSyncStaysExact()
    {
        var store = new MemoryStore();
        var options = EngineTestKit.SmallOptions(capacity: 8, shards: 1);
        options.MaxStatesPerUser = 5;
        var devices = new Dictionary<ulong, Device>();
        var rng = new Random(5);
        for (int round = 0; round < 6; round++)
        {
            await using var engine = EngineTestKit.Create(store, options);
            engine.Start();
            for (int step = 0; step < 150; step++)
            {
                ulong user = (ulong)rng.Next(1, 7);
                ulong channel = (ulong)rng.Next(1, 6);
                switch (rng.Next(4))
                {
                    case 0: await engine.DeleteAsync(user, new[] { channel }, all: false); break;
                    case 1: await engine.Mention(channel, (ulong)rng.Next(1, 1000), user); break;
                    default: await engine.Ack(user, channel, (ulong)rng.Next(1, 1000), manual: rng.Next(5) == 0); break;
                }
                if (rng.Next(4) == 0)
                {
                    var device = devices.TryGetValue(user, out var d) ? d : devices[user] = new Device();
                    await SyncAsync(engine, user, device);
                    await AssertSameAsServer(engine, user, device);
                }
            }
            Assert.True(engine.GetStats().Evictions > 0, "the cache was small enough to evict");
        }
        Assert.True(devices.Count > 3);
    }

    [Fact]
    public async Task DeletingPastTheTombstoneCap_CompactsTheOldest_RaisesTheFloor_AndPurgesTheStore()
    {
        var store = new MemoryStore();
        var options = EngineTestKit.SmallOptions();
        options.MaxTombstonesPerUser = 4;
        await using var engine = EngineTestKit.Create(store, options);
        for (ulong c = 1; c <= 10; c++) await engine.Ack(1, c, 100);
        var early = new Device();
        await SyncAsync(engine, 1, early);
        for (ulong c = 1; c <= 5; c++) await engine.DeleteAsync(1, new[] { c }, all: false); // the 5th passes the cap of 4

        var snapshot = new UserSnapshot();
        await engine.ReadChangesAsync(1, early.Version, default, snapshot);
        Assert.Equal(SyncStatus.ResyncRequired, snapshot.Sync);
        Assert.True(snapshot.States.IsEmpty && snapshot.Deleted.IsEmpty);
        // Down to three quarters of the cap: the two oldest tombstones are gone, the floor is the second deletion.
        Assert.Equal(early.Version + 2, snapshot.SyncFloor);
        await engine.ReadChangesAsync(1, snapshot.SyncFloor, default, snapshot);
        Assert.Equal([3UL, 4UL, 5UL], snapshot.Deleted.ToArray().Select(d => d.ChannelId));

        await engine.FlushAsync();
        Assert.Equal(3, store.StoredTombstones(1));
        Assert.Equal(early.Version + 2, store.StoredFloor(1));
        Assert.Equal(5, store.StoredCount(1));
        Assert.Equal(5 + 3, engine.GetStats().ResidentStates); // purged tombstones no longer cost capacity
    }

    [Fact]
    public async Task TombstonesOlderThanTheRetention_AreCompacted_InMemoryAndInTheStore()
    {
        var clock = new ManualClock(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var store = new MemoryStore();
        var options = EngineTestKit.SmallOptions();
        options.TombstoneRetention = TimeSpan.FromHours(1);
        ulong before;
        await using (var engine = new ReadStateEngine(options, store, timeProvider: clock))
        {
            await engine.Ack(1, 10, 100);
            await engine.Ack(1, 11, 100);
            before = (await engine.GetAsync(1)).Version;
            await engine.DeleteAsync(1, new ulong[] { 10 }, all: false);
            clock.Now += TimeSpan.FromMinutes(30);
            await engine.DeleteAsync(1, new ulong[] { 11 }, all: false);
            clock.Now += TimeSpan.FromMinutes(40); // the first deletion is 70 min old, the second 40
            Assert.Equal(1, engine.SweepTombstones());
            await engine.FlushAsync();
            var snapshot = new UserSnapshot();
            await engine.ReadChangesAsync(1, before, default, snapshot);
            Assert.Equal((SyncStatus.ResyncRequired, before + 1), (snapshot.Sync, snapshot.SyncFloor));
            await engine.ReadChangesAsync(1, before + 1, default, snapshot);
            Assert.Equal([11UL], snapshot.Deleted.ToArray().Select(d => d.ChannelId));
        }
        Assert.Equal(1, store.StoredTombstones(1));
        Assert.Null(store.StoredRow(1, 10));

        // A user loaded after its tombstones aged out is compacted on load.
        clock.Now += TimeSpan.FromHours(2);
        await using (var reopened = new ReadStateEngine(options, store, timeProvider: clock))
        {
            var snapshot = new UserSnapshot();
            await reopened.ReadChangesAsync(1, before + 1, default, snapshot);
            Assert.Equal((SyncStatus.ResyncRequired, before + 2), (snapshot.Sync, snapshot.SyncFloor));
        }
        Assert.Equal((0, before + 2), (store.StoredTombstones(1), store.StoredFloor(1)));
    }

    [Fact]
    public async Task ExpectedVersions_Mismatch_ChangesNothing_AndNamesTheCurrentVersion()
    {
        await using var engine = EngineTestKit.Create(new MemoryStore());
        var first = await engine.Ack(1, 10, 100);
        await engine.Mention(10, 150, 1);
        ulong current = (await engine.StateAsync(1, 10))!.Value.Version;

        var stale = await Assert.ThrowsAsync<VersionMismatchException>(async () =>
            await engine.AckAsync(1, new AckCommand { ChannelId = 10, MessageId = 50, Manual = true, ExpectedVersion = first.State.Version }));
        Assert.Equal((10UL, first.State.Version, current, -1), (stale.ChannelId, stale.Expected, stale.Current, stale.EntryIndex));
        Assert.Equal(100UL, (await engine.StateAsync(1, 10))!.Value.LastMessageId);

        var applied = await engine.AckAsync(1, new AckCommand { ChannelId = 10, MessageId = 50, Manual = true, ExpectedVersion = current });
        Assert.Equal(50UL, applied.State.LastMessageId);
        // 0 = "no state there": creating works with 0, and 0 on a live state is a mismatch.
        await engine.AckAsync(1, new AckCommand { ChannelId = 11, MessageId = 1, ExpectedVersion = 0 });
        await Assert.ThrowsAsync<VersionMismatchException>(async () => await engine.AckAsync(1, new AckCommand { ChannelId = 11, MessageId = 2, ExpectedVersion = 0 }));

        ulong userVersion = (await engine.GetAsync(1)).Version;
        var bulk = new[]
        {
            new AckCommand { ChannelId = 10, MessageId = 500 },
            new AckCommand { ChannelId = 11, MessageId = 500, ExpectedVersion = 1 },
        };
        var bulkStale = await Assert.ThrowsAsync<VersionMismatchException>(async () => await engine.BulkAckAsync(1, bulk, new AckResult[2]));
        Assert.Equal(1, bulkStale.EntryIndex);
        Assert.Equal(userVersion, (await engine.GetAsync(1)).Version); // entry 0 was not applied either

        await Assert.ThrowsAsync<VersionMismatchException>(async () => await engine.DeleteAsync(1, new ulong[] { 10, 11 }, false, new ulong[] { applied.State.Version, 7 }, null));
        await Assert.ThrowsAsync<VersionMismatchException>(async () => await engine.DeleteAsync(1, default, true, default, userVersion - 1));
        await Assert.ThrowsAsync<VersionMismatchException>(async () => await engine.AckParentAsync(1, 0, 900, userVersion + 1));
        await Assert.ThrowsAsync<VersionMismatchException>(async () => await engine.AckPinsAsync(1, 10, 5, default, expectedVersion: applied.State.Version - 1));
        Assert.Equal(2, (await engine.GetAsync(1)).States.Count);
        Assert.Equal(userVersion, (await engine.GetAsync(1)).Version);
        Assert.Equal(2, await engine.DeleteAsync(1, default, true, default, userVersion));
    }

    private sealed class CountingSubscription(ulong userId) : ChangeSubscription(userId)
    {
        public int Signals;
        protected override void OnPending() => Interlocked.Increment(ref Signals);
    }

    [Fact]
    public async Task Subscriptions_AreMarkedOncePerRead_OnlyForTheirUser_UntilUnwatched()
    {
        var options = EngineTestKit.SmallOptions(capacity: 4, shards: 1);
        options.MaxStatesPerUser = 2;
        await using var engine = EngineTestKit.Create(new MemoryStore(), options);
        var watched = new CountingSubscription(1);
        var other = new CountingSubscription(1);
        engine.Watch(watched);
        engine.Watch(other);
        await engine.Ack(1, 10, 100);
        await engine.Ack(1, 10, 200);       // still pending: no second signal
        await engine.Ack(1, 10, 50);        // an ignored older ack changes nothing
        await engine.Ack(2, 10, 100);       // another user
        Assert.Equal((1, 1), (watched.Signals, other.Signals));
        watched.TakePending();
        for (ulong u = 3; u < 10; u++) await engine.Ack(u, 1, 1); // evicts user 1
        await engine.Mention(10, 300, 1);   // reloads it: still watched
        Assert.Equal(2, watched.Signals);
        Assert.True(engine.Unwatch(other));
        Assert.False(engine.Unwatch(other));
        watched.TakePending();
        other.TakePending();
        await engine.DeleteAsync(1, default, all: true);
        Assert.Equal((3, 1), (watched.Signals, other.Signals));
        Assert.Equal(1, engine.GetStats().WatchedUsers);
    }
}
