using System.Buffers;
using System.Buffers.Binary;
using ReadStates.Core;

using ReadStates.Core.Storage;

namespace ReadStates.Storage.RocksDb;

/// <summary>
/// The value stored for one read state. The channel id is in the key, so it is not repeated here.
/// <code>
/// [format:1][presence:1][type | flags &lt;&lt; 4 :1] then, in presence-bit order, only the fields that are not zero:
///   bit 0 last_message_id      fixed 8 bytes, little-endian
///   bit 1 parent_id            fixed 8 bytes
///   bit 2 last_pin_timestamp   zigzag varint
///   bit 3 version              varint
///   bit 4 mention_count        zigzag varint
///   bit 5 last_viewed          zigzag varint
///   bit 6 held mention ids     varint count, first id fixed 8 bytes, then ascending deltas as varints
///   bit 7 mention overflow     varint count, max id fixed 8 bytes
/// </code>
/// Ids are fixed-width because snowflakes are large (a varint would take 9 or 10 bytes); the gaps between
/// mention ids of one channel are small, so those are varints.
/// A tombstone (a deleted state kept for sync reads until its retention ends) is its own format:
/// <code>[format 2:1][version: varint][deleted at, unix ms: varint]</code>
/// </summary>
internal static class ReadStateCodec
{
    public const byte FormatV1 = 1;
    public const byte FormatTombstone = 2;

    /// <summary>Longest tombstone value.</summary>
    public const int MaxTombstoneLength = 1 + MaxVarint64 + MaxVarint64;

    private const byte HasLastMessageId = 1 << 0;
    private const byte HasParentId = 1 << 1;
    private const byte HasLastPinTimestamp = 1 << 2;
    private const byte HasVersion = 1 << 3;
    private const byte HasMentionCount = 1 << 4;
    private const byte HasLastViewed = 1 << 5;
    private const byte HasMentionIds = 1 << 6;
    private const byte HasOverflow = 1 << 7;

    private const int MaxVarint64 = 10;
    private const int MaxVarint32 = 5;

    /// <summary>An upper bound of the encoded size of a state holding <paramref name="mentionIds"/> ids.</summary>
    public static int MaxEncodedLength(int mentionIds) =>
        3 + 8 + 8 + MaxVarint64 + MaxVarint64 + MaxVarint32 + MaxVarint32
        + (MaxVarint32 + 8) + MaxVarint32 + 8 + (mentionIds * MaxVarint64);

    /// <summary>Writes a tombstone (version and deletion time) into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int EncodeTombstone(in ReadState tombstone, Span<byte> destination)
    {
        if (destination.Length < MaxTombstoneLength) throw new ArgumentException("Destination is smaller than MaxTombstoneLength.", nameof(destination));
        destination[0] = FormatTombstone;
        int pos = 1;
        pos += Varint.Write(destination[pos..], tombstone.Version);
        pos += Varint.Write(destination[pos..], (ulong)Math.Max(0, tombstone.DeletedAt));
        return pos;
    }

    /// <summary>Writes <paramref name="stored"/> into <paramref name="destination"/>; returns the bytes written.</summary>
    /// <param name="mentionIds">The held mention ids; sorted here if the caller's are not.</param>
    public static int Encode(in StoredState stored, ReadOnlySpan<ulong> mentionIds, Span<byte> destination)
    {
        ref readonly var s = ref stored.State;
        if ((byte)s.Type > 0x0F)
            throw new ArgumentOutOfRangeException(nameof(stored), s.Type, "Read-state type does not fit the codec.");
        if (destination.Length < MaxEncodedLength(mentionIds.Length))
            throw new ArgumentException("Destination is smaller than MaxEncodedLength.", nameof(destination));

        byte presence = 0;
        if (s.LastMessageId != 0) presence |= HasLastMessageId;
        if (s.ParentId != 0) presence |= HasParentId;
        if (s.LastPinTimestamp != 0) presence |= HasLastPinTimestamp;
        if (s.Version != 0) presence |= HasVersion;
        if (s.MentionCount != 0) presence |= HasMentionCount;
        if (s.LastViewed != 0) presence |= HasLastViewed;
        if (!mentionIds.IsEmpty) presence |= HasMentionIds;
        if (stored.OverflowCount != 0 || stored.OverflowMaxId != 0) presence |= HasOverflow;

        destination[0] = FormatV1;
        destination[1] = presence;
        destination[2] = (byte)((byte)s.Type | ((byte)(s.Flags & ReadState.PublicFlags) << 4));
        int pos = 3;
        if ((presence & HasLastMessageId) != 0) pos += WriteFixed(destination[pos..], s.LastMessageId);
        if ((presence & HasParentId) != 0) pos += WriteFixed(destination[pos..], s.ParentId);
        if ((presence & HasLastPinTimestamp) != 0) pos += Varint.Write(destination[pos..], Varint.ZigZag(s.LastPinTimestamp));
        if ((presence & HasVersion) != 0) pos += Varint.Write(destination[pos..], s.Version);
        if ((presence & HasMentionCount) != 0) pos += Varint.Write(destination[pos..], Varint.ZigZag(s.MentionCount));
        if ((presence & HasLastViewed) != 0) pos += Varint.Write(destination[pos..], Varint.ZigZag(s.LastViewed));
        if ((presence & HasMentionIds) != 0) pos += WriteMentionIds(destination[pos..], mentionIds);
        if ((presence & HasOverflow) != 0)
        {
            pos += Varint.Write(destination[pos..], (uint)stored.OverflowCount);
            pos += WriteFixed(destination[pos..], stored.OverflowMaxId);
        }
        return pos;
    }

    /// <summary>
    /// Reads a value written by <see cref="Encode"/>. Held mention ids go to <paramref name="mentionScratch"/>
    /// (grown when too small) and are returned as <paramref name="mentionIds"/>, ascending.
    /// </summary>
    /// <exception cref="InvalidDataException">The value is truncated, corrupt or of an unknown format.</exception>
    public static void Decode(
        ReadOnlySpan<byte> value,
        ulong channelId,
        out ReadState state,
        out int overflowCount,
        out ulong overflowMaxId,
        ref ulong[] mentionScratch,
        out int mentionIds)
    {
        if (value.Length > 0 && value[0] == FormatTombstone)
        {
            var t = new Reader(value[1..]);
            ulong version = t.Varint();
            ulong deletedAt = t.Varint();
            if (t.Remaining != 0 || deletedAt > (ulong)ReadState.MaxLastPinTimestamp) throw Corrupt("bad tombstone");
            state = ReadState.Tombstone(channelId, version, (long)deletedAt);
            overflowCount = 0;
            overflowMaxId = 0;
            mentionIds = 0;
            return;
        }
        if (value.Length < 3) throw Corrupt("shorter than its header");
        if (value[0] != FormatV1) throw new InvalidDataException($"Unknown read-state value format {value[0]}.");
        byte presence = value[1];
        byte typeFlags = value[2];
        state = default;
        state.ChannelId = channelId;
        state.Type = (ReadStateType)(typeFlags & 0x0F);
        state.Flags = (ReadStateFlags)(typeFlags >> 4) & ReadState.PublicFlags;
        if ((ReadStateFlags)(typeFlags >> 4) != state.Flags) throw Corrupt("unknown flag bits");

        var reader = new Reader(value[3..]);
        if ((presence & HasLastMessageId) != 0) state.LastMessageId = reader.Fixed();
        if ((presence & HasParentId) != 0) state.ParentId = reader.Fixed();
        if ((presence & HasLastPinTimestamp) != 0) state.LastPinTimestamp = Varint.UnZigZag(reader.Varint());
        if ((presence & HasVersion) != 0) state.Version = reader.Varint();
        if ((presence & HasMentionCount) != 0) state.MentionCount = ToInt(Varint.UnZigZag(reader.Varint()));
        if ((presence & HasLastViewed) != 0) state.LastViewed = ToInt(Varint.UnZigZag(reader.Varint()));

        mentionIds = 0;
        if ((presence & HasMentionIds) != 0)
        {
            ulong count = reader.Varint();
            // Each id after the first takes at least one byte: a count beyond that is corrupt, not a huge allocation.
            if (count == 0 || count > (ulong)reader.Remaining) throw Corrupt("bad mention id count");
            int n = (int)count;
            if (mentionScratch.Length < n) mentionScratch = new ulong[Math.Max(n, mentionScratch.Length * 2)];
            ulong id = reader.Fixed();
            mentionScratch[0] = id;
            for (int i = 1; i < n; i++)
            {
                ulong delta = reader.Varint();
                if (delta > ulong.MaxValue - id) throw Corrupt("mention id overflow");
                id += delta;
                mentionScratch[i] = id;
            }
            mentionIds = n;
        }

        overflowCount = 0;
        overflowMaxId = 0;
        if ((presence & HasOverflow) != 0)
        {
            overflowCount = reader.Varint() is var oc && oc <= int.MaxValue ? (int)oc : throw Corrupt("overflow count out of range");
            overflowMaxId = reader.Fixed();
        }
        if (reader.Remaining != 0) throw Corrupt("trailing bytes");
    }

    private static int WriteMentionIds(Span<byte> destination, ReadOnlySpan<ulong> ids)
    {
        ulong[]? rented = null;
        if (!IsAscending(ids))
        {
            rented = ArrayPool<ulong>.Shared.Rent(ids.Length);
            ids.CopyTo(rented);
            rented.AsSpan(0, ids.Length).Sort();
            ids = rented.AsSpan(0, ids.Length);
        }
        int pos = Varint.Write(destination, (uint)ids.Length);
        pos += WriteFixed(destination[pos..], ids[0]);
        for (int i = 1; i < ids.Length; i++)
            pos += Varint.Write(destination[pos..], ids[i] - ids[i - 1]);
        if (rented is not null) ArrayPool<ulong>.Shared.Return(rented);
        return pos;
    }

    private static bool IsAscending(ReadOnlySpan<ulong> ids)
    {
        for (int i = 1; i < ids.Length; i++)
            if (ids[i] < ids[i - 1]) return false;
        return true;
    }

    private static int WriteFixed(Span<byte> destination, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, value);
        return 8;
    }

    private static int ToInt(long value) =>
        value is >= int.MinValue and <= int.MaxValue ? (int)value : throw Corrupt("number out of range");

    private static InvalidDataException Corrupt(string what) => new($"Corrupt read-state value: {what}.");

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public readonly int Remaining => _data.Length - _pos;

        public ulong Fixed()
        {
            if (Remaining < 8) throw Corrupt("truncated id");
            ulong v = BinaryPrimitives.ReadUInt64LittleEndian(_data[_pos..]);
            _pos += 8;
            return v;
        }

        public ulong Varint()
        {
            if (!global::ReadStates.Core.Storage.Varint.TryRead(_data, ref _pos, out ulong v)) throw Corrupt(Remaining == 0 ? "truncated varint" : "varint overflow or truncated");
            return v;
        }
    }
}
