using System.Runtime.CompilerServices;

namespace ReadStates.Core.Cache;

/// <summary>
/// Open-addressing map from user id to slot index: linear probing over parallel arrays,
/// backward-shift deletion (no tombstones), key 0 = empty (0 is never a valid user id).
/// </summary>
internal sealed class UserIndex
{
    private ulong[] _keys;
    private int[] _values;
    private int _count;
    private int _shift;

    public UserIndex(int initialCapacity = 64)
    {
        int size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, initialCapacity * 2));
        _keys = new ulong[size];
        _values = new int[size];
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)size);
    }

    public int Count => _count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);

    public bool TryGet(ulong key, out int value)
    {
        int mask = _keys.Length - 1;
        for (int i = Home(key); ; i = (i + 1) & mask)
        {
            ulong k = _keys[i];
            if (k == key) { value = _values[i]; return true; }
            if (k == 0) { value = -1; return false; }
        }
    }

    public void Add(ulong key, int value)
    {
        if ((_count + 1) * 4 > _keys.Length * 3) Grow();
        Insert(key, value);
        _count++;
    }

    public bool Remove(ulong key)
    {
        int mask = _keys.Length - 1;
        int i = Home(key);
        while (true)
        {
            if (_keys[i] == key) break;
            if (_keys[i] == 0) return false;
            i = (i + 1) & mask;
        }
        // Backward-shift: pull later entries of the probe run into the hole.
        int hole = i;
        for (int j = (hole + 1) & mask; _keys[j] != 0; j = (j + 1) & mask)
        {
            int home = Home(_keys[j]);
            bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable)
            {
                _keys[hole] = _keys[j];
                _values[hole] = _values[j];
                hole = j;
            }
        }
        _keys[hole] = 0;
        _count--;
        return true;
    }

    private void Insert(ulong key, int value)
    {
        int mask = _keys.Length - 1;
        int i = Home(key);
        while (_keys[i] != 0)
        {
            if (_keys[i] == key) throw new InvalidOperationException("Duplicate user in index.");
            i = (i + 1) & mask;
        }
        _keys[i] = key;
        _values[i] = value;
    }

    private void Grow()
    {
        var oldKeys = _keys;
        var oldValues = _values;
        _keys = new ulong[oldKeys.Length * 2];
        _values = new int[oldKeys.Length * 2];
        _shift--;
        for (int i = 0; i < oldKeys.Length; i++)
            if (oldKeys[i] != 0) Insert(oldKeys[i], oldValues[i]);
    }
}
