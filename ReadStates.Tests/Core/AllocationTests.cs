using ReadStates.Core;

namespace ReadStates.Tests.Core;

public sealed class AllocationTests
{
    [Fact]
    public async Task ResidentHotPath_AllocatesNothing()
    {
        var store = new MemoryStore();
        var options = EngineTestKit.SmallOptions();
        options.MaxStatesPerUser = 1000;
        options.MentionIdCap = 100;
        await using var engine = new ReadStateEngine(options, store);
        const int users = 64;
        for (ulong u = 1; u <= users; u++)
            for (ulong c = 1; c <= 10; c++)
                await engine.AckAsync(u, new AckCommand { ChannelId = c, MessageId = 1, Attributes = new StateAttributes { ParentId = c % 3 } });

        ulong[] fanOut = [.. Enumerable.Range(1, users).Select(i => (ulong)i)];
        var bulk = new AckCommand[10];
        var results = new AckResult[10];
        ulong[] someChannels = [3, 1, 7];
        var snapshot = new UserSnapshot();
        long statesRead = 0;

        void Round(ulong m)
        {
            for (ulong u = 1; u <= users; u++)
            {
                var ack = engine.AckAsync(u, new AckCommand { ChannelId = 1 + m % 10, MessageId = m });
                Assert.True(ack.IsCompletedSuccessfully);
                for (int i = 0; i < bulk.Length; i++) bulk[i] = new AckCommand { ChannelId = (ulong)i + 1, MessageId = m };
                Assert.True(engine.BulkAckAsync(u, bulk, results).IsCompletedSuccessfully);
                Assert.True(engine.TryRead(u, default, snapshot));
                statesRead += snapshot.States.Length;
                Assert.True(engine.TryRead(u, someChannels, snapshot));
                statesRead += snapshot.States.Length;
            }
            Assert.True(engine.AddMentionsAsync(5, m + 1, fanOut, default, null).IsCompletedSuccessfully);
            Assert.True(engine.AddMentionsAsync(6, m + 2, fanOut, default, null).IsCompletedSuccessfully);
            Assert.True(engine.RemoveMentionsAsync(6, m + 2, fanOut).IsCompletedSuccessfully);
            Assert.True(engine.AckParentAsync(1 + m % users, 2, m).IsCompletedSuccessfully);
        }

        ulong message = 10;
        for (int i = 0; i < 200; i++) Round(message += 10); // warm up: JIT tiers, pools sized
        // Best of three rounds: a tier-up still finishing can make the runtime allocate on this thread once.
        long allocated = long.MaxValue;
        for (int round = 0; round < 3 && allocated != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) Round(message += 10); // 6,400 acks, bulk acks and reads; 400 fan-outs of 64
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(allocated == 0, $"allocated {allocated} bytes");
        Assert.True(statesRead > 0);
        Assert.True(engine.TryRead(1, default, snapshot));
        Assert.True(snapshot.Totals.TotalMentions > 0, "the fan-outs counted mentions");
    }
}
