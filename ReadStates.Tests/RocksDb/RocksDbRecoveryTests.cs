using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;

namespace ReadStates.Tests.RocksDb;

/// <summary>
/// The store after RocksDB stops writing (disk full, I/O error): it reopens the database once the cause
/// clears, keeps what it had, and never lets a load or write touch a closed instance. RocksDB's sticky
/// error is played by <see cref="RocksDbHandle.InjectedWriteError"/> and a full disk by the free-space seam;
/// <c>DiskFullTests</c> does the same on a real full file system where the machine allows it.
/// </summary>
public sealed class RocksDbRecoveryTests : IDisposable
{
    private const string NoSpace = "IO error: No space left on device: While appending to file: 000004.log: No space left on device (injected)";
    private const string DeviceError = "IO error: While appending to file: 000004.log: Input/output error (injected)";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "readstates-recovery-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (File.Exists(_dir)) File.Delete(_dir);
        if (Directory.Exists(_dir + ".away")) Directory.Delete(_dir + ".away", recursive: true);
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private RocksDbStore Open() => new(new RocksDbStoreOptions { Path = _dir, BlockCacheMb = 8 });

    private static StateBatch User(ulong userId, ulong lastMessageId)
    {
        var batch = new StateBatch();
        batch.BeginUser(userId, 1);
        batch.AddState(new ReadState { ChannelId = 7, LastMessageId = lastMessageId, Version = 1 }, 0, 0, []);
        return batch;
    }

    private static ulong? LastMessageId(RocksDbStore store, ulong userId)
    {
        var batch = new StateBatch();
        store.LoadUserAsync(userId, batch, CancellationToken.None).GetAwaiter().GetResult();
        var states = batch.StatesOf(batch.Users[0]);
        return states.Length == 0 ? null : states[0].State.LastMessageId;
    }

    [Fact]
    public async Task NoSpace_RefusesWrites_WhileTheDiskIsFull_ServesLoads_ThenReopens_AndKeepsEverything()
    {
        await using (var store = Open())
        {
            await store.WriteAsync(User(1, 100), CancellationToken.None);
            var db = store.Database;
            long free = 0;
            db.FreeSpace = _ => Volatile.Read(ref free);
            db.Current!.InjectedWriteError = NoSpace;

            var refused = await Assert.ThrowsAsync<RocksDbUnavailableException>(() => store.WriteAsync(User(2, 200), CancellationToken.None));

            Assert.Contains("KiB are free", refused.Message, StringComparison.Ordinal);
            Assert.Equal(1, db.Current!.Generation); // not closed while the disk is full: loads still work
            Assert.Equal(100UL, LastMessageId(store, 1));

            Volatile.Write(ref free, RecoveringDatabase.ReopenHeadroomBytes - 1);
            await Assert.ThrowsAsync<RocksDbUnavailableException>(() => store.WriteAsync(User(2, 200), CancellationToken.None));
            Assert.Equal(1, db.Current!.Generation);

            Volatile.Write(ref free, long.MaxValue);
            await store.WriteAsync(User(2, 200), CancellationToken.None);

            Assert.Equal(2, db.Current!.Generation);
            Assert.Null(db.Current.InjectedWriteError);
            Assert.Equal(100UL, LastMessageId(store, 1));
            Assert.Equal(200UL, LastMessageId(store, 2));
        }
        await using var reopened = Open();
        Assert.Equal(100UL, LastMessageId(reopened, 1));
        Assert.Equal(200UL, LastMessageId(reopened, 2));
    }

    [Fact]
    public async Task FailedReopen_ClosesTheStore_LoadsAndWritesFailCleanly_UntilItOpensAgain()
    {
        await using var store = Open();
        await store.WriteAsync(User(1, 100), CancellationToken.None);
        var db = store.Database;
        db.ReopenInterval = TimeSpan.FromMilliseconds(100);
        db.Current!.InjectedWriteError = DeviceError;
        // A file where the directory was: opening the database there fails for real.
        Directory.Move(_dir, _dir + ".away");
        await File.WriteAllTextAsync(_dir, "not a directory");

        await Assert.ThrowsAsync<RocksDbUnavailableException>(() => store.WriteAsync(User(2, 200), CancellationToken.None));

        Assert.Null(db.Current);
        var load = Assert.Throws<RocksDbUnavailableException>(() => LastMessageId(store, 1));
        Assert.Contains("closed after a failure", load.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<RocksDbUnavailableException>(() => store.WriteAsync(User(2, 200), CancellationToken.None));

        File.Delete(_dir);
        Directory.Move(_dir + ".away", _dir);
        await Task.Delay(150); // past the reopen interval

        Assert.Equal(100UL, LastMessageId(store, 1)); // the load opens it
        await store.WriteAsync(User(2, 200), CancellationToken.None);
        Assert.Equal(200UL, LastMessageId(store, 2));
        Assert.Equal(2, db.Current!.Generation);
    }

    [Fact]
    public async Task OtherErrors_AreNotTakenForIoErrors_AndReopenIsNotTried()
    {
        await using var store = Open();
        store.Database.Current!.InjectedWriteError = "Corruption: bad block (injected)";

        await Assert.ThrowsAsync<RocksDbSharp.RocksDbSharpException>(() => store.WriteAsync(User(1, 1), CancellationToken.None));

        Assert.Equal(1, store.Database.Current!.Generation);
    }

    [Fact]
    public async Task LoadsAndWrites_RunConcurrentlyWithReopens_AndNeverFailOrReadWrongData()
    {
        await using var store = Open();
        const int users = 64;
        for (ulong u = 1; u <= users; u++) await store.WriteAsync(User(u, 1000 + u), CancellationToken.None);
        var db = store.Database;
        var stop = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        int reopens = 0;
        long loads = 0;

        // Own threads, not the pool's: three busy readers would starve a pooled writer on a 2-core box.
        var readers = Enumerable.Range(0, 3).Select(r => Task.Factory.StartNew(() =>
        {
            var random = new Random(r);
            while (DateTime.UtcNow < stop && Volatile.Read(ref reopens) < 200)
            {
                ulong user = (ulong)random.Next(1, users + 1);
                Assert.Equal(1000 + user, LastMessageId(store, user));
                Interlocked.Increment(ref loads);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        var writer = Task.Factory.StartNew(() =>
        {
            for (ulong k = 1; DateTime.UtcNow < stop && k <= 200; k++)
            {
                db.Current!.InjectedWriteError = DeviceError; // every write now needs a reopen first
                store.WriteAsync(User(10_000 + k, k), CancellationToken.None).GetAwaiter().GetResult();
                Interlocked.Increment(ref reopens);
            }
        }, TaskCreationOptions.LongRunning);
        await Task.WhenAll([.. readers, writer]).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(reopens >= 5, $"only {reopens} reopens");
        Assert.Equal(reopens + 1, db.Current!.Generation);
        Assert.True(loads > reopens, $"{loads} loads");
        for (ulong k = 1; k <= (ulong)reopens; k++) Assert.Equal(k, LastMessageId(store, 10_000 + k));
    }
}
