using System.Runtime.CompilerServices;

namespace ReadStates.Core.Memory;

/// <summary>
/// Blocks of unmanaged <typeparamref name="T"/> in size classes (1 … 8, then four per doubling),
/// carved from large chunk arrays that are never freed, only reused. Blocks are addressed by a global
/// element index, so the cache holds ints, not references, and the GC never walks its contents.
/// Not thread-safe: each shard owns its pools and uses them under its lock.
/// </summary>
internal sealed class SlabPool<T> where T : unmanaged
{
    public const int ChunkShift = 16;
    public const int ChunkSize = 1 << ChunkShift;
    private const int ChunkMask = ChunkSize - 1;

    private readonly int[] _classSizes;
    private T[][] _chunks = new T[4][];
    private int _chunkCount;
    private int _bumpInChunk = ChunkSize; // forces a chunk on first rent
    private readonly int[][] _free;
    private readonly int[] _freeCount;

    /// <param name="minBlock">Smallest block.</param>
    /// <param name="maxBlock">Largest block (at most <see cref="ChunkSize"/>).</param>
    /// <param name="doubling">Classes double (for blocks that grow one element at a time and churn,
    /// where fine classes would mean a copy at every step) instead of the fine-grained default.</param>
    public SlabPool(int minBlock, int maxBlock, bool doubling = false)
    {
        if (maxBlock > ChunkSize) throw new ArgumentOutOfRangeException(nameof(maxBlock), $"Blocks larger than {ChunkSize} elements are not supported.");
        // Every size up to 8, then four classes per doubling (10, 12, 14, 16, 20, 24, 28, 32, ...):
        // a block is at most 25 % and on average ~12 % slack.
        var sizes = new List<int>();
        for (int size = doubling ? minBlock : 1; ; size = doubling ? size * 2 : size + (size < 8 ? 1 : (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)size + 1) / 8))
        {
            if (size >= minBlock) sizes.Add(Math.Min(size, maxBlock));
            if (size >= maxBlock) break;
        }
        _classSizes = sizes.ToArray();
        _free = new int[_classSizes.Length][];
        _freeCount = new int[_classSizes.Length];
        for (int i = 0; i < _free.Length; i++) _free[i] = [];
    }

    public int ClassCount => _classSizes.Length;
    public int MaxBlock => _classSizes[^1];
    public long ReservedElements => (long)_chunkCount * ChunkSize;
    public long RentedElements { get; private set; }

    public int ClassSize(int sizeClass) => _classSizes[sizeClass];

    /// <summary>The smallest class holding <paramref name="length"/> elements.</summary>
    public int ClassFor(int length)
    {
        int lo = 0, hi = _classSizes.Length - 1;
        if (length > _classSizes[hi]) throw new ArgumentOutOfRangeException(nameof(length));
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (_classSizes[mid] >= length) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    /// <summary>Rents a block of the given class; returns its global start index.</summary>
    public int Rent(int sizeClass)
    {
        int size = _classSizes[sizeClass];
        RentedElements += size;
        if (_freeCount[sizeClass] > 0) return _free[sizeClass][--_freeCount[sizeClass]];
        if (_bumpInChunk + size > ChunkSize) NewChunk();
        int start = ((_chunkCount - 1) << ChunkShift) + _bumpInChunk;
        _bumpInChunk += size;
        return start;
    }

    public void Return(int start, int sizeClass)
    {
        RentedElements -= _classSizes[sizeClass];
        ref int[] list = ref _free[sizeClass];
        if (_freeCount[sizeClass] == list.Length) Array.Resize(ref list, Math.Max(16, list.Length * 2));
        list[_freeCount[sizeClass]++] = start;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<T> Block(int start, int length) => new(_chunks[start >> ChunkShift], start & ChunkMask, length);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref T At(int index) => ref _chunks[index >> ChunkShift][index & ChunkMask];

    private void NewChunk()
    {
        if (_chunkCount == _chunks.Length) Array.Resize(ref _chunks, _chunks.Length * 2);
        if (_chunkCount >= (int.MaxValue >> ChunkShift)) throw new InvalidOperationException("Slab pool address space exhausted.");
        // Uninitialized: every rented slot is written before it is read.
        _chunks[_chunkCount++] = GC.AllocateUninitializedArray<T>(ChunkSize);
        _bumpInChunk = 0;
    }
}
