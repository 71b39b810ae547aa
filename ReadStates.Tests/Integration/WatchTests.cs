using System.Diagnostics;
using Google.Rpc;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>The Watch stream through the real server: order, no gap, no duplicate, slow consumers, resume, unsubscribe, bad input.</summary>
public sealed class WatchTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TempDir _dir = new();
    private RunningService _service = null!;
    private ReadStatesClient Client => _service.Client;

    public async Task InitializeAsync() => _service = await RunningService.StartAsync(_dir.Path,
        "Engine:MaxStatesPerUser=64", "Engine:FlushInterval=00:00:00.050", "Service:MaxWatchSubscriptions=1000", "Service:MaxWatchEventStates=40");

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>Reads events into the copies until every copy has reached the server's version, then checks the states.</summary>
    private async Task ConvergeAsync(WatchClient watch, Dictionary<ulong, WatchedCopy> copies)
    {
        var deadline = DateTime.UtcNow + Wait;
        foreach (var (user, copy) in copies)
        {
            ulong target = (await Client.GetAsync(new GetRequest { UserId = user })).Version;
            while (copy.StreamVersion < target || !copy.Confirmed)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"user {user} stuck at {copy.StreamVersion} of {target}");
                var e = await watch.NextAsync(deadline - DateTime.UtcNow) ?? throw new InvalidOperationException($"stream ended: {watch.Error?.Status}");
                await copies[e.UserId].ApplyAsync(e, Client);
            }
            var full = await Client.GetAsync(new GetRequest { UserId = user });
            Assert.Equal(full.Version, copy.Version);
            Assert.Equal(full.States, copy.States.Values);
        }
    }

    [Fact]
    public async Task ConcurrentWriters_EveryChangeArrivesOnceInVersionOrder_FromTheResumePoint()
    {
        const int users = 24;
        // Half the users have history before the subscription: resumed from a Get's version, or from the middle of it.
        var resume = new Dictionary<ulong, ulong?>();
        for (ulong u = 1; u <= users; u++)
        {
            if (u % 3 == 0) { resume[u] = null; continue; } // from now on (a user never seen when u > 20)
            for (ulong c = 1; c <= 3; c++) await Client.AckAsync(new AckRequest { UserId = u, ChannelId = c, MessageId = 10 * c });
            resume[u] = u % 3 == 1 ? (await Client.GetAsync(new GetRequest { UserId = u })).Version : 1;
        }
        await using var watch = new WatchClient(Client);
        var copies = new Dictionary<ulong, WatchedCopy>();
        var request = new WatchRequest();
        foreach (var (u, since) in resume)
        {
            var s = new WatchSubscription { UserId = u };
            var copy = new WatchedCopy();
            if (since is { } v)
            {
                s.SinceVersion = v;
                // The copy starts as a device that synced to v would be: take the states at v from a full Get filtered by version.
                var full = await Client.GetAsync(new GetRequest { UserId = u });
                foreach (var st in full.States.Where(x => x.Version <= v)) copy.States[st.ChannelId] = st;
                copy.Version = v;
                copy.StreamVersion = v;
            }
            request.Subscribe.Add(s);
            copies[u] = copy;
        }
        await watch.SendAsync(request);

        // Writers: acks, mentions, deletes, from several tasks at once, for a bounded time.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        long changes = 0;
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var rng = new Random(w);
            ulong message = 1000 + (ulong)w;
            for (int i = 0; i < 400 && !stop.IsCancellationRequested; i++)
            {
                ulong user = (ulong)rng.Next(1, users + 1), channel = (ulong)rng.Next(1, 8);
                message += 4;
                switch (rng.Next(5))
                {
                    case 0: await Client.AddMentionsAsync(new AddMentionsRequest { ChannelId = channel, MessageId = message, UserIds = { user, (ulong)rng.Next(1, users + 1) } }); break;
                    case 1: await Client.DeleteAsync(new DeleteRequest { UserId = user, ChannelIds = { channel } }); break;
                    default: await Client.AckAsync(new AckRequest { UserId = user, ChannelId = channel, MessageId = message }); break;
                }
                Interlocked.Increment(ref changes);
            }
        })).ToArray();

        // Read while they write: every event must start exactly where the user's previous one ended.
        var reading = Task.Run(async () =>
        {
            while (!writers.All(t => t.IsCompleted))
            {
                var e = await watch.NextAsync(TimeSpan.FromMilliseconds(200));
                if (e is not null) await copies[e.UserId].ApplyAsync(e, Client);
            }
        });
        await Task.WhenAll(writers);
        await reading;
        await ConvergeAsync(watch, copies);

        Assert.True(changes > 200, $"only {changes} writes");
        Assert.All(copies.Values, c => Assert.True(c.Confirmed));
        Assert.Equal(0, copies.Values.Sum(c => c.Resyncs));
        Assert.True(copies.Values.Sum(c => c.Events) > users, "live changes arrived after the confirmations");
    }

    [Fact]
    public async Task SlowConsumer_DoesNotBlockWriters_GetsCoalescedEvents_AndConverges()
    {
        const int users = 20;
        await using var watch = new WatchClient(Client, autoRead: false);
        var copies = new Dictionary<ulong, WatchedCopy>();
        var request = new WatchRequest();
        for (ulong u = 1; u <= users; u++)
        {
            request.Subscribe.Add(new WatchSubscription { UserId = u, SinceVersion = 0 });
            copies[u] = new WatchedCopy();
        }
        await watch.SendAsync(request);

        // The consumer reads nothing while 3,000 changes land: writers must not wait for it.
        var slowest = TimeSpan.Zero;
        ulong message = 1;
        for (int i = 0; i < 3000; i++)
        {
            ulong user = (ulong)(i % users) + 1;
            var t = Stopwatch.StartNew();
            await Client.AckAsync(new AckRequest { UserId = user, ChannelId = (ulong)(i % 5) + 1, MessageId = message++, Attributes = new StateAttributes { LastViewed = i % 60000 } });
            if (t.Elapsed > slowest) slowest = t.Elapsed;
        }
        Assert.True(slowest < TimeSpan.FromSeconds(5), $"a write waited {slowest.TotalMilliseconds:0} ms behind the stalled consumer");

        watch.StartReading();
        await ConvergeAsync(watch, copies);
        int events = copies.Values.Sum(c => c.Events);
        Assert.True(events < 3000, $"{events} events for 3,000 changes: nothing was coalesced");
    }

    [Fact]
    public async Task CatchUpLargerThanOneEvent_IsAResync_AndTheStreamGoesOnFromThere()
    {
        for (ulong c = 1; c <= 50; c++) await Client.AckAsync(new AckRequest { UserId = 7, ChannelId = c, MessageId = c });
        await using var watch = new WatchClient(Client);
        await watch.SubscribeAsync(7, since: 0);
        var resync = await watch.WaitForAsync(e => e.UserId == 7, Wait);
        Assert.Equal((WatchEventKind.Resync, ResyncReason.TooManyChanges, 0UL, 50UL), (resync.Kind, resync.ResyncReason, resync.FromVersion, resync.Version));

        await Client.AckAsync(new AckRequest { UserId = 7, ChannelId = 3, MessageId = 300 });
        var next = await watch.WaitForAsync(e => e.UserId == 7, Wait);
        Assert.Equal((WatchEventKind.Changes, 50UL, 51UL), (next.Kind, next.FromVersion, next.Version));
        Assert.Equal(300UL, Assert.Single(next.Changes.States).LastMessageId);
    }

    [Fact]
    public async Task Disconnect_ThenResume_DeliversExactlyTheMissedChanges()
    {
        var copy = new WatchedCopy();
        await using (var first = new WatchClient(Client))
        {
            await first.SubscribeAsync(3, since: 0);
            await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 1, MessageId = 10 });
            await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 2, MessageId = 20 });
            while (copy.StreamVersion < 2) await copy.ApplyAsync(await first.WaitForAsync(e => e.UserId == 3, Wait), Client);
            first.Cancel();
        }
        // Missed while away: a change, a deletion, a change to a state changed before.
        await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 1, MessageId = 15 });
        await Client.DeleteAsync(new DeleteRequest { UserId = 3, ChannelIds = { 2 } });
        await Client.AckAsync(new AckRequest { UserId = 3, ChannelId = 4, MessageId = 40 });

        await using var second = new WatchClient(Client);
        await second.SubscribeAsync(3, since: copy.Version);
        var catchUp = await second.WaitForAsync(e => e.UserId == 3, Wait);
        Assert.Equal((WatchEventKind.Changes, 2UL, 5UL), (catchUp.Kind, catchUp.FromVersion, catchUp.Version));
        Assert.Equal([1UL, 4UL], catchUp.Changes.States.Select(s => s.ChannelId));
        Assert.Equal([new DeletedState { ChannelId = 2, Version = 4 }], catchUp.Changes.Deleted);
        await copy.ApplyAsync(catchUp, Client);
        var full = await Client.GetAsync(new GetRequest { UserId = 3 });
        Assert.Equal(full.States, copy.States.Values);
    }

    [Fact]
    public async Task Unsubscribe_IsConfirmed_AndNothingFollowsForThatUser()
    {
        await using var watch = new WatchClient(Client);
        await watch.SendAsync(new WatchRequest { Subscribe = { new WatchSubscription { UserId = 11 }, new WatchSubscription { UserId = 12 } } });
        await watch.WaitForAsync(e => e.UserId == 11, Wait);
        await watch.WaitForAsync(e => e.UserId == 12, Wait);
        await watch.UnsubscribeAsync(11);
        var gone = await watch.WaitForAsync(e => e.UserId == 11, Wait);
        Assert.Equal(WatchEventKind.Unsubscribed, gone.Kind);

        await Client.AckAsync(new AckRequest { UserId = 11, ChannelId = 1, MessageId = 1 });
        await Client.AckAsync(new AckRequest { UserId = 12, ChannelId = 1, MessageId = 1 });
        await Client.AckAsync(new AckRequest { UserId = 11, ChannelId = 2, MessageId = 1 });
        await Client.AckAsync(new AckRequest { UserId = 12, ChannelId = 2, MessageId = 2 });
        var forOthers = new List<WatchResponse>();
        await watch.WaitForAsync(e => e.UserId == 12 && e.Version == 2, Wait, forOthers.Add);
        Assert.Null(await watch.NextAsync(TimeSpan.FromMilliseconds(300)));
        Assert.DoesNotContain(forOthers, e => e.UserId == 11);
        Assert.Equal(1, _service.Services.GetRequiredEngine().GetStats().WatchedUsers); // only user 12 is still watched
    }

    [Fact]
    public async Task UnknownUser_IsAtVersionZero_AndAResumePointFromTheFuture_IsAResync_ThatChangesNothing()
    {
        await using var watch = new WatchClient(Client);
        await watch.SubscribeAsync(424242);
        var confirm = await watch.WaitForAsync(e => e.UserId == 424242, Wait);
        Assert.Equal((WatchEventKind.Changes, 0UL, 0UL), (confirm.Kind, confirm.FromVersion, confirm.Version));
        Assert.Empty(confirm.Changes.States);

        await Client.AckAsync(new AckRequest { UserId = 5, ChannelId = 1, MessageId = 1 });
        var before = await Client.GetAsync(new GetRequest { UserId = 5 });
        await watch.SubscribeAsync(5, since: 99);
        var ahead = await watch.WaitForAsync(e => e.UserId == 5, Wait);
        Assert.Equal((WatchEventKind.Resync, ResyncReason.VersionAhead, 99UL, 1UL), (ahead.Kind, ahead.ResyncReason, ahead.FromVersion, ahead.Version));
        Assert.Equal(before, await Client.GetAsync(new GetRequest { UserId = 5 }));
        // Still subscribed, from the current version.
        await Client.AckAsync(new AckRequest { UserId = 5, ChannelId = 1, MessageId = 2 });
        var next = await watch.WaitForAsync(e => e.UserId == 5, Wait);
        Assert.Equal((WatchEventKind.Changes, 1UL, 2UL), (next.Kind, next.FromVersion, next.Version));
    }

    [Fact]
    public async Task ZeroIdsOrDuplicates_EndTheStreamWithInvalidArgument_NamingTheField_AndApplyNothingOfThatMessage()
    {
        foreach (var (bad, field) in new (WatchRequest, string)[]
        {
            (new WatchRequest { Subscribe = { new WatchSubscription { UserId = 8 }, new WatchSubscription { UserId = 0 } } }, "subscribe[1].user_id"),
            (new WatchRequest { UnsubscribeUserIds = { 0 } }, "unsubscribe_user_ids[0]"),
            (new WatchRequest { Subscribe = { new WatchSubscription { UserId = 8 }, new WatchSubscription { UserId = 8 } } }, "subscribe[1].user_id"),
        })
        {
            await using var watch = new WatchClient(Client);
            await watch.SendAsync(bad);
            Assert.Null(await watch.NextAsync(Wait)); // ends without an event: user 8 was not subscribed
            Assert.NotNull(watch.Error);
            Assert.Equal(StatusCode.InvalidArgument, watch.Error!.StatusCode);
            var violation = Assert.Single(watch.Error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations);
            Assert.Equal(field, violation.Field);
        }
        Assert.Equal(0, _service.Services.GetRequiredEngine().GetStats().WatchedUsers);
    }

    [Fact]
    public async Task MoreSubscriptionsThanTheStreamLimit_EndTheStreamWithResourceExhausted()
    {
        using var dir = new TempDir();
        await using var service = await RunningService.StartAsync(dir.Path, "Service:MaxWatchSubscriptions=3");
        await using var watch = new WatchClient(service.Client);
        await watch.SendAsync(new WatchRequest { Subscribe = { new WatchSubscription { UserId = 1 }, new WatchSubscription { UserId = 2 } } });
        await watch.WaitForAsync(e => e.UserId == 2, Wait);
        await watch.SendAsync(new WatchRequest { Subscribe = { new WatchSubscription { UserId = 3 }, new WatchSubscription { UserId = 4 } } });
        Assert.Null(await watch.WaitForEndAsync(Wait));
        Assert.Equal(StatusCode.ResourceExhausted, watch.Error!.StatusCode);
    }

    [Fact]
    public async Task ClosingTheRequestStream_EndsTheCallWithOk_AndItsSubscriptions()
    {
        await using var watch = new WatchClient(Client);
        await watch.SubscribeAsync(21);
        await watch.WaitForAsync(e => e.UserId == 21, Wait);
        Assert.Equal(1, _service.Services.GetRequiredEngine().GetStats().WatchedUsers);
        await watch.CompleteAsync();
        Assert.Null(await watch.WaitForEndAsync(Wait));
        Assert.Null(watch.Error);
        var deadline = DateTime.UtcNow + Wait;
        while (_service.Services.GetRequiredEngine().GetStats().WatchedUsers != 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, _service.Services.GetRequiredEngine().GetStats().WatchedUsers);
    }
}

internal static class WatchTestExtensions
{
    public static ReadStates.Core.ReadStateEngine GetRequiredEngine(this IServiceProvider services) =>
        (ReadStates.Core.ReadStateEngine)services.GetService(typeof(ReadStates.Core.ReadStateEngine))!;

    /// <summary>Reads and drops events until the stream ends; returns null then (or the first event left when time ran out).</summary>
    public static async Task<WatchResponse?> WaitForEndAsync(this WatchClient watch, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var e = await watch.NextAsync(deadline - DateTime.UtcNow);
            if (e is null) return watch.Ended ? null : throw new TimeoutException("the stream did not end");
        }
        throw new TimeoutException("the stream did not end");
    }
}
