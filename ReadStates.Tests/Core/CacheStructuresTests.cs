using ReadStates.Core;
using ReadStates.Core.Cache;
using ReadStates.Core.Memory;

namespace ReadStates.Tests.Core;

public sealed class CacheStructuresTests
{
    [Fact]
    public void UserIndex_AgreesWithDictionary_UnderRandomAddsAndRemoves()
    {
        var index = new UserIndex(4);
        var model = new Dictionary<ulong, int>();
        var rng = new Random(7);
        for (int i = 0; i < 50_000; i++)
        {
            // A small key space keeps probe runs long and wrapping, where backward-shift bugs hide.
            ulong key = (ulong)rng.Next(1, 3000);
            if (rng.Next(3) == 0)
            {
                Assert.Equal(model.Remove(key), index.Remove(key));
            }
            else if (!model.ContainsKey(key))
            {
                model[key] = i;
                index.Add(key, i);
            }
            if (i % 1000 == 0)
            {
                Assert.Equal(model.Count, index.Count);
                foreach (var (k, v) in model)
                {
                    Assert.True(index.TryGet(k, out int got));
                    Assert.Equal(v, got);
                }
            }
        }
        for (ulong k = 1; k < 3000; k++) Assert.Equal(model.ContainsKey(k), index.TryGet(k, out _));
    }

    [Fact]
    public void StateArenaFind_AgreesWithArrayBinarySearch_ForEveryBlockSizeAndKey()
    {
        // Blocks of 0..70 sorted channels (odd ids, so every even id is absent and has an insertion point),
        // probed with every present id, every gap between them and both ends.
        for (int n = 0; n <= 70; n++)
        {
            var channels = new ulong[n];
            var cells = new CachedState[n];
            for (int i = 0; i < n; i++)
            {
                channels[i] = (ulong)(2 * i + 1);
                cells[i].Set(new ReadState { ChannelId = channels[i] });
            }
            for (ulong key = 0; key <= (ulong)(2 * n + 2); key++)
                Assert.Equal(Array.BinarySearch(channels, key), StateArena.Find(cells, key));
        }
    }

    [Fact]
    public void SlabPool_ClassesFitRequests_WithAtMostAQuarterSlack()
    {
        var pool = new SlabPool<long>(1, SlabPool<long>.ChunkSize);
        for (int n = 1; n <= SlabPool<long>.ChunkSize; n += n < 100 ? 1 : 97)
        {
            int size = pool.ClassSize(pool.ClassFor(n));
            Assert.True(size >= n, $"class for {n} holds {size}");
            Assert.True(size <= Math.Max(8, n * 1.25 + 1), $"class for {n} is {size}: too much slack");
        }
    }

    [Fact]
    public void SlabPool_ReusesReturnedBlocks_AndKeepsBlocksApart()
    {
        var pool = new SlabPool<long>(1, 1024);
        var blocks = new List<(int Start, int Class, long Tag)>();
        var rng = new Random(3);
        for (int i = 0; i < 5000; i++)
        {
            if (blocks.Count > 0 && rng.Next(3) == 0)
            {
                int victim = rng.Next(blocks.Count);
                var b = blocks[victim];
                Assert.All(pool.Block(b.Start, pool.ClassSize(b.Class)).ToArray(), x => Assert.Equal(b.Tag, x));
                pool.Return(b.Start, b.Class);
                blocks.RemoveAt(victim);
                continue;
            }
            int cls = pool.ClassFor(rng.Next(1, 1025));
            int start = pool.Rent(cls);
            pool.Block(start, pool.ClassSize(cls)).Fill(i);
            blocks.Add((start, cls, i));
        }
        foreach (var b in blocks)
            Assert.All(pool.Block(b.Start, pool.ClassSize(b.Class)).ToArray(), x => Assert.Equal(b.Tag, x));
        Assert.Equal(blocks.Sum(b => (long)pool.ClassSize(b.Class)), pool.RentedElements);
        Assert.True(pool.ReservedElements < 5000L * 1024, "returned blocks must be reused");
    }
}

public sealed class SlabPoolDoublingTests
{
    [Fact]
    public void DoublingClasses_StartAtTheMinimum_DoubleAndEndAtTheMaximum()
    {
        var pool = new SlabPool<ulong>(4, 102, doubling: true);
        var sizes = Enumerable.Range(0, pool.ClassCount).Select(pool.ClassSize).ToArray();
        Assert.Equal([4, 8, 16, 32, 64, 102], sizes);
    }
}
