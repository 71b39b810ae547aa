using Core = ReadStates.Core;
using V1 = ReadStates.Api.V1;

namespace ReadStates.Api;

/// <summary>Maps between wire messages and engine types. Inputs are validated before they get here.</summary>
internal static class ProtoMapper
{
    public static Core.StateAttributes ToCore(V1.StateAttributes? a)
    {
        if (a is null) return default;
        return new Core.StateAttributes
        {
            Type = a.HasType ? (Core.ReadStateType)(byte)a.Type : null,
            ParentId = a.HasParentId ? a.ParentId : null,
            Flags = a.HasFlags ? (Core.ReadStateFlags)(byte)a.Flags : null,
            LastViewed = a.HasLastViewed ? a.LastViewed : null,
        };
    }

    public static Core.AckCommand ToCore(V1.AckRequest r) => new()
    {
        ChannelId = r.ChannelId,
        MessageId = r.MessageId,
        Manual = r.Manual,
        Attributes = ToCore(r.Attributes),
        ExpectedVersion = r.HasExpectedVersion ? r.ExpectedVersion : null,
    };

    public static Core.AckCommand ToCore(V1.BulkAckEntry e) => new()
    {
        ChannelId = e.ChannelId,
        MessageId = e.MessageId,
        Manual = e.Manual,
        Attributes = ToCore(e.Attributes),
        ExpectedVersion = e.HasExpectedVersion ? e.ExpectedVersion : null,
    };

    public static V1.ReadState ToProto(in Core.ReadState s) => new()
    {
        ChannelId = s.ChannelId,
        LastMessageId = s.LastMessageId,
        MentionCount = (uint)Math.Max(0, s.MentionCount),
        Type = (V1.ReadStateType)(int)s.Type,
        ParentId = s.ParentId,
        Flags = (uint)(s.Flags & Core.ReadState.PublicFlags),
        LastPinTimestamp = s.LastPinTimestamp,
        LastViewed = s.LastViewed,
        Version = s.Version,
    };

    public static V1.AckResponse ToProto(in Core.AckResult r) => new() { Applied = r.Applied, State = ToProto(r.State) };

    public static V1.DeletedState ToProto(in Core.Deletion d) => new() { ChannelId = d.ChannelId, Version = d.Version };

    public static V1.SyncStatus ToProto(Core.SyncStatus s) => s switch
    {
        Core.SyncStatus.Changes => V1.SyncStatus.Changes,
        Core.SyncStatus.ResyncRequired => V1.SyncStatus.ResyncRequired,
        _ => V1.SyncStatus.Full,
    };

    public static V1.ParentTotals ToProto(in Core.ParentTotal p) => new()
    {
        ParentId = p.ParentId,
        MentionCount = (uint)Math.Clamp(p.Mentions, 0, uint.MaxValue),
        ChannelsWithMentions = (uint)Math.Max(0, p.ChannelsWithMentions),
    };
}
