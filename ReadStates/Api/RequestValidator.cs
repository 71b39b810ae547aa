using Google.Protobuf.Collections;
using Google.Rpc;
using Grpc.Core;
using ReadStates.Api.V1;

namespace ReadStates.Api;

/// <summary>
/// Checks requests before they reach the engine, so that a bad request changes nothing. Every problem
/// found (up to a cap) is reported as a <c>google.rpc.BadRequest</c> field violation. The happy path
/// allocates nothing.
/// </summary>
internal static class RequestValidator
{
    private const uint KnownFlags = (uint)(ReadStateFlag.GuildChannel | ReadStateFlag.Thread | ReadStateFlag.LowImportanceMention);
    private const ReadStateType LastType = ReadStateType.MessageRequests;

    public static void Validate(AckRequest r)
    {
        var v = default(Violations);
        NonZero(ref v, r.UserId, "user_id");
        NonZero(ref v, r.ChannelId, "channel_id");
        NonZero(ref v, r.MessageId, "message_id");
        Attributes(ref v, r.Attributes, "attributes");
        v.ThrowIfAny();
    }

    public static void Validate(BulkAckRequest r, RequestLimits limits)
    {
        var v = default(Violations);
        NonZero(ref v, r.UserId, "user_id");
        if (r.Entries.Count > limits.MaxBulkAckEntries)
            v.Add("entries", $"At most {limits.MaxBulkAckEntries} entries per call; got {r.Entries.Count}.");
        else
        {
            for (int i = 0; i < r.Entries.Count; i++)
            {
                var e = r.Entries[i];
                if (e.ChannelId == 0) v.Add($"entries[{i}].channel_id", "Must not be 0.");
                if (e.MessageId == 0) v.Add($"entries[{i}].message_id", "Must not be 0.");
                if (e.Attributes is not null && !AttributesValid(e.Attributes)) Attributes(ref v, e.Attributes, $"entries[{i}].attributes");
            }
        }
        v.ThrowIfAny();
    }

    public static void Validate(AckParentRequest r)
    {
        var v = default(Violations);
        NonZero(ref v, r.UserId, "user_id");
        NonZero(ref v, r.ParentId, "parent_id");
        NonZero(ref v, r.MessageId, "message_id");
        v.ThrowIfAny();
    }

    public static void Validate(AckPinsRequest r)
    {
        var v = default(Violations);
        NonZero(ref v, r.UserId, "user_id");
        NonZero(ref v, r.ChannelId, "channel_id");
        if (r.LastPinTimestamp is <= 0 or > Core.ReadState.MaxLastPinTimestamp)
            v.Add("last_pin_timestamp", $"Must be a unix time in milliseconds between 1 and {Core.ReadState.MaxLastPinTimestamp}.");
        Attributes(ref v, r.Attributes, "attributes");
        v.ThrowIfAny();
    }

    public static void Validate(AddMentionsRequest r, RequestLimits limits)
    {
        var v = default(Violations);
        NonZero(ref v, r.ChannelId, "channel_id");
        NonZero(ref v, r.MessageId, "message_id");
        Ids(ref v, r.UserIds, "user_ids", limits.MaxMentionUsers);
        Attributes(ref v, r.Attributes, "attributes");
        v.ThrowIfAny();
    }

    public static void Validate(RemoveMentionsRequest r, RequestLimits limits)
    {
        var v = default(Violations);
        NonZero(ref v, r.ChannelId, "channel_id");
        NonZero(ref v, r.MessageId, "message_id");
        Ids(ref v, r.UserIds, "user_ids", limits.MaxMentionUsers);
        v.ThrowIfAny();
    }

    public static void Validate(GetRequest r, RequestLimits limits)
    {
        var v = default(Violations);
        NonZero(ref v, r.UserId, "user_id");
        Ids(ref v, r.ChannelIds, "channel_ids", limits.MaxChannelIds);
        v.ThrowIfAny();
    }

    public static void Validate(DeleteRequest r, RequestLimits limits)
    {
        var v = default(Violations);
        NonZero(ref v, r.UserId, "user_id");
        if (r.All && r.ChannelIds.Count > 0)
            v.Add("channel_ids", "Must be empty when all is true.");
        else
            Ids(ref v, r.ChannelIds, "channel_ids", limits.MaxChannelIds);
        if (r.ExpectedVersions.Count > 0 && r.ExpectedVersions.Count != r.ChannelIds.Count)
            v.Add("expected_versions", $"Give one expected version per channel id ({r.ChannelIds.Count}), or none; got {r.ExpectedVersions.Count}.");
        v.ThrowIfAny();
    }

    /// <summary>One WatchRequest: non-zero ids, no user twice in the subscribe list, at most the stream's limit of entries.</summary>
    public static void Validate(WatchRequest r, WatchLimits limits)
    {
        var v = default(Violations);
        if (r.Subscribe.Count + r.UnsubscribeUserIds.Count > limits.MaxSubscriptions)
        {
            v.Add("subscribe", $"At most {limits.MaxSubscriptions} entries per message; got {r.Subscribe.Count + r.UnsubscribeUserIds.Count}.");
            v.ThrowIfAny();
        }
        HashSet<ulong>? seen = r.Subscribe.Count > 1 ? new HashSet<ulong>(r.Subscribe.Count) : null;
        for (int i = 0; i < r.Subscribe.Count; i++)
        {
            ulong user = r.Subscribe[i].UserId;
            if (user == 0) v.Add($"subscribe[{i}].user_id", "Must not be 0.");
            else if (seen is not null && !seen.Add(user)) v.Add($"subscribe[{i}].user_id", $"User {user} appears twice in one message.");
        }
        for (int i = 0; i < r.UnsubscribeUserIds.Count; i++)
            if (r.UnsubscribeUserIds[i] == 0) v.Add($"unsubscribe_user_ids[{i}]", "Must not be 0.");
        v.ThrowIfAny();
    }

    private static void NonZero(ref Violations v, ulong id, string field)
    {
        if (id == 0) v.Add(field, "Must not be 0.");
    }

    private static void Ids(ref Violations v, RepeatedField<ulong> ids, string field, int max)
    {
        if (ids.Count > max)
        {
            v.Add(field, $"At most {max} ids per call; got {ids.Count}.");
            return;
        }
        for (int i = 0; i < ids.Count; i++)
            if (ids[i] == 0) v.Add($"{field}[{i}]", "Must not be 0.");
    }

    private static bool AttributesValid(StateAttributes a) =>
        (!a.HasType || (uint)a.Type <= (uint)LastType)
        && (!a.HasFlags || (a.Flags & ~KnownFlags) == 0)
        && (!a.HasLastViewed || a.LastViewed is >= 0 and <= Core.ReadState.MaxLastViewed);

    private static void Attributes(ref Violations v, StateAttributes? a, string prefix)
    {
        if (a is null || AttributesValid(a)) return;
        if (a.HasType && (uint)a.Type > (uint)LastType)
            v.Add(prefix + ".type", $"Unknown read-state type {(int)a.Type}.");
        if (a.HasFlags && (a.Flags & ~KnownFlags) != 0)
            v.Add(prefix + ".flags", $"Unknown flag bits 0x{a.Flags & ~KnownFlags:X}; allowed: GUILD_CHANNEL (1), THREAD (2), LOW_IMPORTANCE_MENTION (4).");
        if (a.HasLastViewed && a.LastViewed is < 0 or > Core.ReadState.MaxLastViewed)
            v.Add(prefix + ".last_viewed", $"Must be between 0 and {Core.ReadState.MaxLastViewed}.");
    }

    /// <summary>Collects violations; allocates only once something is wrong.</summary>
    private struct Violations
    {
        private const int MaxReported = 20;
        private List<BadRequest.Types.FieldViolation>? _list;
        private int _total;

        public void Add(string field, string description)
        {
            _total++;
            _list ??= [];
            if (_list.Count < MaxReported) _list.Add(new BadRequest.Types.FieldViolation { Field = field, Description = description });
        }

        public readonly void ThrowIfAny()
        {
            if (_list is null) return;
            var first = _list[0];
            string message = _total == 1
                ? $"Invalid {first.Field}: {first.Description}"
                : $"Invalid request: {_total} problems, first {first.Field}: {first.Description}";
            throw RpcErrors.InvalidArgument(message, _list);
        }
    }
}
