using System.Runtime.InteropServices;

namespace ReadStates.Core;

/// <summary>The six kinds of read state (values match the wire enum).</summary>
public enum ReadStateType : byte
{
    Channel = 0,
    GuildEvent = 1,
    NotificationCenter = 2,
    GuildHome = 3,
    GuildOnboardingQuestion = 4,
    MessageRequests = 5,
}

/// <summary>
/// Flag bits of a read state. <see cref="Deleted"/> is internal: a tombstone, kept (with its version and
/// deletion time) for <see cref="EngineOptions.TombstoneRetention"/> so that a sync read can report the deletion.
/// </summary>
[Flags]
public enum ReadStateFlags : byte
{
    None = 0,
    GuildChannel = 1,
    Thread = 2,
    LowImportanceMention = 4,
    Deleted = 8,
}

/// <summary>
/// One read state: the record the engine hands to callers and stores, an unmanaged 44-byte struct.
/// Small fields are packed: mention count (24 bits, saturating), type and flags (4 bits each),
/// last pin timestamp (48-bit unix milliseconds), last viewed (16 bits). It carries no cache
/// pointer: where its mention ids live is the cache's business (<c>Cache.CachedState</c>), so
/// <c>default(ReadState)</c> is simply an empty state and nothing that crosses the store seam can
/// point into a shard's arena. Packed to 4 bytes so that the cache's cell (this plus a 4-byte
/// mention reference) is 48 bytes; in those 48-byte cells the ids stay 8-byte aligned.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct ReadState
{
    public ulong ChannelId;
    public ulong LastMessageId;
    public ulong ParentId;
    public ulong Version;
    private uint _countTypeFlags;
    private uint _pinLow;
    private ushort _pinHigh;
    private ushort _lastViewed;

    public const int MaxMentionCount = 0xFFFFFF;
    public const long MaxLastPinTimestamp = (1L << 48) - 1;
    public const int MaxLastViewed = ushort.MaxValue;
    public const ReadStateFlags PublicFlags = ReadStateFlags.GuildChannel | ReadStateFlags.Thread | ReadStateFlags.LowImportanceMention;

    /// <summary>Held mention ids plus mentions counted past the id cap (saturates at <see cref="MaxMentionCount"/>).</summary>
    public int MentionCount
    {
        readonly get => (int)(_countTypeFlags & MaxMentionCount);
        set => _countTypeFlags = (_countTypeFlags & ~(uint)MaxMentionCount) | (uint)Math.Clamp(value, 0, MaxMentionCount);
    }

    public ReadStateType Type
    {
        readonly get => (ReadStateType)((_countTypeFlags >> 24) & 0xF);
        set => _countTypeFlags = (_countTypeFlags & ~0x0F000000u) | (((uint)value & 0xF) << 24);
    }

    public ReadStateFlags Flags
    {
        readonly get => (ReadStateFlags)(_countTypeFlags >> 28);
        set => _countTypeFlags = (_countTypeFlags & 0x0FFFFFFFu) | (((uint)value & 0xF) << 28);
    }

    /// <summary>Unix milliseconds of the last pins ack; 0 = never. Kept in 48 bits (clamped).</summary>
    public long LastPinTimestamp
    {
        readonly get => ((long)_pinHigh << 32) | _pinLow;
        set
        {
            long v = Math.Clamp(value, 0, MaxLastPinTimestamp);
            _pinLow = (uint)v;
            _pinHigh = (ushort)(v >> 32);
        }
    }

    /// <summary>Caller-defined day number (0 = never), 0..65535.</summary>
    public int LastViewed
    {
        readonly get => _lastViewed;
        set => _lastViewed = (ushort)Math.Clamp(value, 0, MaxLastViewed);
    }

    public readonly bool IsDeleted => (_countTypeFlags & ((uint)ReadStateFlags.Deleted << 28)) != 0;

    /// <summary>
    /// A tombstone's deletion time, unix milliseconds. A tombstone has no pins, so this lives in the pin
    /// timestamp's 48 bits: no extra byte per cell. Only meaningful when <see cref="IsDeleted"/>.
    /// </summary>
    public long DeletedAt
    {
        readonly get => LastPinTimestamp;
        set => LastPinTimestamp = value;
    }

    /// <summary>A tombstone: the channel, the version of the deletion and when it happened; every other field zero.</summary>
    public static ReadState Tombstone(ulong channelId, ulong version, long deletedAt)
    {
        var s = new ReadState { ChannelId = channelId, Version = version, Flags = ReadStateFlags.Deleted };
        s.DeletedAt = deletedAt;
        return s;
    }
}

/// <summary>A state deleted after a sync read's <c>since</c> version: which channel, and the version of the deletion.</summary>
public readonly record struct Deletion(ulong ChannelId, ulong Version);

/// <summary>What a sync read (since a version) could answer.</summary>
public enum SyncStatus : byte
{
    /// <summary>A full read: no since version was asked for.</summary>
    Full = 0,
    /// <summary>Exactly the states changed and deleted after the since version.</summary>
    Changes = 1,
    /// <summary>The since version is below the user's sync floor: history needed to answer exactly is gone.</summary>
    ResyncRequired = 2,
}

/// <summary>Attributes a call sets on the states it creates, or updates where given.</summary>
public struct StateAttributes
{
    public ReadStateType? Type;
    public ulong? ParentId;
    public ReadStateFlags? Flags;
    public int? LastViewed;

    public readonly bool IsEmpty => Type is null && ParentId is null && Flags is null && LastViewed is null;
}

public struct AckCommand
{
    public ulong ChannelId;
    public ulong MessageId;
    public bool Manual;
    public StateAttributes Attributes;
    /// <summary>
    /// When set, the ack applies only if the state's version is exactly this (0 = no live state there);
    /// otherwise nothing changes and <see cref="VersionMismatchException"/> is thrown.
    /// </summary>
    public ulong? ExpectedVersion;
}

public struct AckResult
{
    /// <summary>False when an older, non-manual ack was ignored; nothing changed then.</summary>
    public bool Applied;
    public ReadState State;
}

/// <summary>Totals over all live states of a user.</summary>
public struct UserTotals
{
    public long TotalMentions;
    public int ChannelsWithMentions;
    public int States;
}

public struct ParentTotal
{
    public ulong ParentId;
    public long Mentions;
    public int ChannelsWithMentions;
}

