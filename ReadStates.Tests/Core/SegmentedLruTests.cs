using ReadStates.Core;
using ReadStates.Core.Cache;

namespace ReadStates.Tests.Core;

/// <summary>The eviction policy on its own, then through the engine.</summary>
public sealed class SegmentedLruTests
{
    [Fact]
    public void NewUsers_AreEvictedOldestFirst_WhileNoneCameBack()
    {
        var lru = SegmentedLru.OverArray(8);
        for (int s = 0; s < 5; s++) lru.Add(s);
        Assert.Equal(0, lru.Victim(spare: -1));
        Assert.Equal(1, lru.Victim(spare: 0)); // the user being served is never the victim
        lru.Remove(0);
        Assert.Equal(1, lru.Victim(spare: -1));
        Assert.Equal(0, lru.ProtectedCount);
    }

    [Fact]
    public void TheAccessThatMadeAUserResident_CountsOnce_TheNextPromotesIt()
    {
        var lru = SegmentedLru.OverArray(8);
        lru.Add(0);
        lru.Add(1);
        lru.Touch(0); // the call that loaded it
        Assert.False(lru.IsProtected(0));
        Assert.Equal(0, lru.Victim(spare: -1));
        lru.Touch(0); // it came back
        Assert.True(lru.IsProtected(0));
        Assert.Equal(1, lru.Victim(spare: -1)); // probation goes first
    }

    [Fact]
    public void Protected_KeepsItsShare_WhenAVictimIsChosen_SpillingItsOldestBackToProbation()
    {
        var lru = UsersWhoCameBack(10, slots: 16);
        // Nothing had to be evicted yet, so no touch moved users back: all ten came back, all ten are protected.
        Assert.Equal(10, lru.ProtectedCount);
        int victim = lru.Victim(spare: -1);
        // Choosing a victim enforces the share: the first users promoted were spilled to probation, the first of them is the victim.
        Assert.Equal((int)(10 * SegmentedLru.ProtectedShare), lru.ProtectedCount);
        Assert.False(lru.IsProtected(0));
        Assert.False(lru.IsProtected(1));
        Assert.True(lru.IsProtected(9));
        Assert.Equal(0, victim);
    }

    [Fact]
    public void UnderEvictions_ProtectedComesDownToItsShare_AFewUsersPerVictim()
    {
        var lru = UsersWhoCameBack(50, slots: 64);
        var evicted = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            int before = lru.ProtectedCount;
            int victim = lru.Victim(spare: -1);
            Assert.True(before - lru.ProtectedCount <= SegmentedLru.DemotionsPerVictim, "a bounded amount of work per victim");
            lru.Remove(victim);
            evicted.Add(victim);
        }
        Assert.True(lru.ProtectedCount <= (int)(lru.Count * SegmentedLru.ProtectedShare), $"protected {lru.ProtectedCount} of {lru.Count}");
        // Victims are the least recently promoted users, in order.
        Assert.Equal(Enumerable.Range(0, 10), evicted);
    }

    [Fact]
    public void AHotUser_SurvivesAOnePassScanOfColdUsers()
    {
        const int capacity = 100;
        var lru = SegmentedLru.OverArray(capacity + 1);
        var resident = new HashSet<int>();
        int nextSlot = 0;
        var free = new Stack<int>();
        int hot = Admit();
        lru.Touch(hot);
        lru.Touch(hot); // seen twice: protected
        for (int i = 0; i < 20 * capacity; i++)
        {
            int cold = Admit();
            lru.Touch(cold); // a cold user is seen once
        }
        Assert.Contains(hot, resident);

        int Admit()
        {
            if (resident.Count == capacity)
            {
                int victim = lru.Victim(spare: -1);
                lru.Remove(victim);
                resident.Remove(victim);
                free.Push(victim);
            }
            int slot = free.Count > 0 ? free.Pop() : nextSlot++;
            lru.Add(slot);
            resident.Add(slot);
            return slot;
        }
    }

    [Fact]
    public async Task ThroughTheEngine_HotUsersStayResident_WhileAScanStreamsPast()
    {
        var store = new MemoryStore();
        var options = EngineTestKit.SmallOptions(capacity: 200, shards: 1);
        await using var engine = EngineTestKit.Create(store, options);
        // Twenty hot users, each seen several times.
        for (int round = 0; round < 3; round++)
            for (ulong u = 1; u <= 20; u++) await engine.Ack(u, 1, (ulong)(10 + round));
        // A backfill walks 2,000 other users once: ten times the cache.
        for (ulong u = 1000; u < 3000; u++) await engine.Ack(u, 1, 1);
        int loadsBefore = store.Loads;
        for (ulong u = 1; u <= 20; u++) await engine.Ack(u, 1, 100);
        Assert.Equal(loadsBefore, store.Loads); // no hot user had to be reloaded
        Assert.True(engine.GetStats().Evictions >= 1800, "the scan did overflow the cache");
    }

    [Fact]
    public void InsideProtected_ARecentlyPromotedUser_IsNotRelinked_AnOlderOneIs()
    {
        var lru = UsersWhoCameBack(40, slots: 64); // all 40 protected: nothing was evicted yet
        // Slot 39 was promoted last; touching it again right away keeps it where it is.
        lru.Touch(39);
        Assert.True(lru.IsProtected(39));
        // The oldest protected user, touched now, moves to the head: when victims are chosen and protected is
        // brought down to its share, it is not spilled; the users promoted after it, and not seen since, are.
        lru.Touch(0);
        var victims = new List<int>();
        for (int i = 0; i < 4; i++)
        {
            int victim = lru.Victim(spare: -1);
            lru.Remove(victim);
            victims.Add(victim);
        }
        Assert.True(lru.IsProtected(0));
        Assert.Equal([1, 2, 3, 4], victims);
    }

    /// <summary>Slots 0..users-1 made resident and each seen once more, in order: all in protected, oldest promotion first.</summary>
    private static SegmentedLru<SegmentedLru.ArrayNodes> UsersWhoCameBack(int users, int slots)
    {
        var lru = SegmentedLru.OverArray(slots);
        for (int s = 0; s < users; s++)
        {
            lru.Add(s);
            lru.Touch(s); // the access that made it resident
            lru.Touch(s); // it came back: promoted
        }
        return lru;
    }
}
