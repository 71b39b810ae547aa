using System.Buffers.Binary;
using System.Numerics;

namespace ReadStates.Cql;

/// <summary>
/// Cassandra's Murmur3Partitioner token: x64 128-bit MurmurHash3 (seed 0), first half as a signed
/// long. Unlike the reference C code, tail bytes are sign-extended (Java reads them as signed bytes),
/// and long.MinValue is reserved, so it maps to long.MaxValue.
/// </summary>
internal static class Murmur3
{
    private const ulong C1 = 0x87c37b91114253d5UL;
    private const ulong C2 = 0x4cf5ad432745937fUL;

    public static long Token(ReadOnlySpan<byte> key)
    {
        long h = (long)Hash1(key);
        return h == long.MinValue ? long.MaxValue : h;
    }

    /// <summary>The token of a single bigint partition key (its 8 big-endian bytes).</summary>
    public static long Token(long bigintKey)
    {
        Span<byte> key = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(key, bigintKey);
        return Token(key);
    }

    private static ulong Hash1(ReadOnlySpan<byte> data)
    {
        ulong h1 = 0, h2 = 0;
        int nblocks = data.Length / 16;
        for (int i = 0; i < nblocks; i++)
        {
            ulong k1 = BinaryPrimitives.ReadUInt64LittleEndian(data[(i * 16)..]);
            ulong k2 = BinaryPrimitives.ReadUInt64LittleEndian(data[(i * 16 + 8)..]);
            k1 *= C1; k1 = BitOperations.RotateLeft(k1, 31); k1 *= C2; h1 ^= k1;
            h1 = BitOperations.RotateLeft(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
            k2 *= C2; k2 = BitOperations.RotateLeft(k2, 33); k2 *= C1; h2 ^= k2;
            h2 = BitOperations.RotateLeft(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
        }

        var tail = data[(nblocks * 16)..];
        ulong t1 = 0, t2 = 0;
        for (int i = tail.Length - 1; i >= 8; i--) t2 ^= (ulong)(long)(sbyte)tail[i] << ((i - 8) * 8);
        for (int i = Math.Min(tail.Length, 8) - 1; i >= 0; i--) t1 ^= (ulong)(long)(sbyte)tail[i] << (i * 8);
        if (tail.Length > 8)
        {
            t2 *= C2; t2 = BitOperations.RotateLeft(t2, 33); t2 *= C1; h2 ^= t2;
        }
        if (tail.Length > 0)
        {
            t1 *= C1; t1 = BitOperations.RotateLeft(t1, 31); t1 *= C2; h1 ^= t1;
        }

        h1 ^= (ulong)data.Length;
        h2 ^= (ulong)data.Length;
        h1 += h2;
        h2 += h1;
        h1 = Mix(h1);
        h2 = Mix(h2);
        h1 += h2;
        return h1;
    }

    private static ulong Mix(ulong k)
    {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdUL;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53UL;
        k ^= k >> 33;
        return k;
    }

    /// <summary>
    /// The routing key of a prepared statement's bound values: the single partition-key value itself, or
    /// for a composite key each component as u16 length, bytes, 0. Returns false when a component is missing.
    /// </summary>
    public static bool TryTokenOf(CqlValues values, int firstValue, ReadOnlySpan<int> pkIndexes, out long token)
    {
        token = 0;
        if (pkIndexes.Length == 0) return false;
        if (pkIndexes.Length == 1)
        {
            if (values.GetValue(firstValue + pkIndexes[0], out var single) < 0) return false;
            token = Token(single);
            return true;
        }
        int size = 0;
        for (int i = 0; i < pkIndexes.Length; i++)
        {
            int len = values.GetValue(firstValue + pkIndexes[i], out _);
            if (len < 0) return false;
            size += 3 + len;
        }
        Span<byte> key = size <= 512 ? stackalloc byte[size] : new byte[size];
        int pos = 0;
        for (int i = 0; i < pkIndexes.Length; i++)
        {
            values.GetValue(firstValue + pkIndexes[i], out var component);
            BinaryPrimitives.WriteUInt16BigEndian(key[pos..], (ushort)component.Length);
            component.CopyTo(key[(pos + 2)..]);
            pos += 2 + component.Length;
            key[pos++] = 0;
        }
        token = Token(key);
        return true;
    }
}

/// <summary>ScyllaDB's biased-token-round-robin sharding.</summary>
internal static class ScyllaSharding
{
    public static int ShardOf(long token, int shardCount, int ignoreMsb)
    {
        if (shardCount <= 1) return 0;
        ulong biased = unchecked((ulong)token + (1UL << 63));
        biased <<= ignoreMsb;
        return (int)(((UInt128)biased * (ulong)shardCount) >> 64);
    }
}

/// <summary>Client-side write timestamps: Unix microseconds, strictly increasing even if the wall clock stalls or steps back.</summary>
public sealed class MonotonicTimestamp
{
    private readonly TimeProvider _time;
    private long _last;

    public MonotonicTimestamp(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    public long Next()
    {
        long now = (_time.GetUtcNow().UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
        while (true)
        {
            long last = Volatile.Read(ref _last);
            long next = now > last ? now : last + 1;
            if (Interlocked.CompareExchange(ref _last, next, last) == last) return next;
        }
    }
}
