using System.Diagnostics;
using ReadStates.Core.Cache;

namespace ReadStates.Tests.Core;

/// <summary>The shard's lock on its own: mutual exclusion under contention, and waiters that sleep and are woken.</summary>
public sealed class ShardGateTests
{
    // Threads that outnumber the cores fight over one gate; a counter updated without atomics inside it must
    // come out exact, and no two threads may ever be inside together.
    [Fact]
    public async Task ContendedThreads_NeverShareTheGate_AndEveryIncrementLands()
    {
        var gate = new ShardGate();
        const int Threads = 6, Rounds = 20_000;
        long counter = 0;
        int inside = 0, overlaps = 0;
        var threads = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                using (gate.Hold())
                {
                    if (Interlocked.Increment(ref inside) != 1) Interlocked.Increment(ref overlaps);
                    long c = counter;
                    if ((i & 63) == 0) Thread.Yield(); // sometimes lose the core while holding it
                    counter = c + 1;
                    Interlocked.Decrement(ref inside);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        await Task.Run(() => threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a thread did not finish")));
        Assert.Equal((0, (long)Threads * Rounds), (overlaps, counter));
    }

    // A holder that keeps the gate for a while: the waiter stops spinning, sleeps, and enters only once the
    // holder leaves, woken by it (not by a timeout: nothing here has one).
    [Fact]
    public async Task AWaiter_EntersOnlyAfterTheHolderLeaves()
    {
        var gate = new ShardGate();
        gate.Enter();
        var entered = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = Stopwatch.StartNew();
        var waiter = new Thread(() =>
        {
            using (gate.Hold()) entered.SetResult(clock.ElapsedMilliseconds);
        });
        waiter.Start();
        await Task.Delay(200);
        Assert.False(entered.Task.IsCompleted, "the waiter entered a held gate");
        long releasedAt = clock.ElapsedMilliseconds;
        gate.Exit();
        long enteredAt = await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(enteredAt >= releasedAt, $"entered at {enteredAt} ms, released at {releasedAt} ms");
        Assert.True(waiter.Join(TimeSpan.FromSeconds(10)));
        // The gate is free again for whoever comes next.
        using (gate.Hold()) { }
    }

    // Several sleepers queued behind one holder all get in, one at a time: each exit wakes the next.
    [Fact]
    public async Task SleepersQueuedBehindAHolder_AllEnter_OneAtATime()
    {
        var gate = new ShardGate();
        gate.Enter();
        int inside = 0, overlaps = 0, done = 0;
        var waiters = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            using (gate.Hold())
            {
                if (Interlocked.Increment(ref inside) != 1) Interlocked.Increment(ref overlaps);
                Thread.Sleep(20);
                Interlocked.Decrement(ref inside);
                Interlocked.Increment(ref done);
            }
        })).ToList();
        waiters.ForEach(t => t.Start());
        await Task.Delay(200); // long enough for all of them to stop spinning and sleep
        Assert.Equal(0, Volatile.Read(ref done));
        gate.Exit();
        await Task.Run(() => waiters.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(10)), "a sleeper was never woken")));
        Assert.Equal((4, 0), (done, overlaps));
    }
}
