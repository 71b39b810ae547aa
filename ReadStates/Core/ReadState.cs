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

/// <summary>Flag bits of a read state. <see cref="Deleted"/> is internal: a tombstone waiting for write-behind.</summary>
[Flags]
public enum ReadStateFlags : byte
{
    None = 0,
    GuildChannel = 1,
    Thread = 2,
    LowImportanceMention = 4,
    Deleted = 0x80,
}

/// <summary>
/// One read state, as held in the cache arena: an unmanaged 56-byte struct, never a heap object.
/// The ids of the mentions it counts live in a separate pooled block (<see cref="MentionBlock"/>).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct ReadState
{
    public ulong ChannelId;
    public ulong LastMessageId;
    public ulong ParentId;
    /// <summary>Unix milliseconds of the last pins ack; 0 = never.</summary>
    public long LastPinTimestamp;
    public ulong Version;
    /// <summary>Held mention ids plus mentions counted past the id cap.</summary>
    public int MentionCount;
    public int LastViewed;
    /// <summary>Start of this state's mention block in the shard's mention pool; -1 when it has none.</summary>
    internal int MentionBlock;
    public ReadStateType Type;
    public ReadStateFlags Flags;

    public const ReadStateFlags PublicFlags = ReadStateFlags.GuildChannel | ReadStateFlags.Thread | ReadStateFlags.LowImportanceMention;

    public readonly bool IsDeleted => (Flags & ReadStateFlags.Deleted) != 0;
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

/// <summary>Receives a resident user's states under the shard lock; must not block or call back into the engine.</summary>
public interface IReadStateVisitor
{
    void Begin(ulong userVersion, in UserTotals totals);
    void Parent(in ParentTotal parent);
    void State(in ReadState state);
}
