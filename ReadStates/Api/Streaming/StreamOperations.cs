using System.Buffers;
using ReadStates.Api.V1;
using ReadStates.Core;
using OpCase = ReadStates.Api.V1.StreamRequest.OpOneofCase;

namespace ReadStates.Api.Streaming;

/// <summary>What an operation of the <c>Stream</c> RPC needs from the caller: read access (get) or write access (the rest).</summary>
internal enum StreamAccess { None, Read, Write }

/// <summary>
/// Runs one operation of a <c>Stream</c> call with the unary RPCs' validation and semantics. A resident user's
/// operation completes synchronously (no state machine); only a store load goes async. Validation errors and
/// engine errors are thrown, and the session turns them into that operation's status.
/// </summary>
internal static class StreamOperations
{
    /// <summary>The permission each operation needs, for an authorization layer that checks per operation.</summary>
    public static StreamAccess AccessOf(OpCase op) => op switch
    {
        OpCase.Get => StreamAccess.Read,
        OpCase.None or OpCase.Cancel => StreamAccess.None,
        _ => StreamAccess.Write,
    };

    /// <summary>Calls <paramref name="visit"/> with every user the operation touches (its order key).</summary>
    public static void ForEachUser<TState>(StreamRequest r, ref TState state, UserVisitor<TState> visit)
    {
        switch (r.OpCase)
        {
            case OpCase.Ack: visit(ref state, r.Ack.UserId); break;
            case OpCase.BulkAck: visit(ref state, r.BulkAck.UserId); break;
            case OpCase.AckParent: visit(ref state, r.AckParent.UserId); break;
            case OpCase.AckPins: visit(ref state, r.AckPins.UserId); break;
            case OpCase.Get: visit(ref state, r.Get.UserId); break;
            case OpCase.Delete: visit(ref state, r.Delete.UserId); break;
            case OpCase.AddMentions: foreach (ulong u in r.AddMentions.UserIds) visit(ref state, u); break;
            case OpCase.RemoveMentions: foreach (ulong u in r.RemoveMentions.UserIds) visit(ref state, u); break;
        }
    }

    public delegate void UserVisitor<TState>(ref TState state, ulong userId);

    /// <param name="caller">What the stream's caller may do; an operation it lacks the permission for is refused on its own.</param>
    public static ValueTask<StreamResponse> Start(ReadStateEngine engine, RequestLimits limits, StreamRequest r, Permission caller, CancellationToken ct)
    {
        ulong id = r.Id;
        var access = AccessOf(r.OpCase);
        if (access == StreamAccess.Write && (caller & Permission.Write) == 0) throw Denied(LacksWrite);
        if (access == StreamAccess.Read && (caller & Permission.Read) == 0) throw Denied(LacksRead);
        switch (r.OpCase)
        {
            case OpCase.Ack:
            {
                RequestValidator.Validate(r.Ack);
                var pending = engine.AckAsync(r.Ack.UserId, ProtoMapper.ToCore(r.Ack), ct);
                if (pending.IsCompletedSuccessfully) return new(new StreamResponse { Id = id, Ack = Ack(pending.Result, r.OmitStates) });
                return AckSlow(id, pending, r.OmitStates);
            }
            case OpCase.BulkAck:
            {
                RequestValidator.Validate(r.BulkAck, limits);
                var bulk = BulkAckCall.Start(engine, r.BulkAck, ct);
                if (bulk.Pending.IsCompletedSuccessfully) return new(new StreamResponse { Id = id, BulkAck = bulk.Finish(r.OmitStates) });
                return BulkSlow(id, bulk, r.OmitStates);
            }
            case OpCase.AckParent:
            {
                RequestValidator.Validate(r.AckParent);
                var a = r.AckParent;
                var pending = engine.AckParentAsync(a.UserId, a.ParentId, a.MessageId, a.HasExpectedUserVersion ? a.ExpectedUserVersion : null, ct);
                if (pending.IsCompletedSuccessfully) return new(new StreamResponse { Id = id, AckParent = new AckParentResponse { Acked = (uint)pending.Result } });
                return AckParentSlow(id, pending);
            }
            case OpCase.AckPins:
            {
                RequestValidator.Validate(r.AckPins);
                var p = r.AckPins;
                var pending = engine.AckPinsAsync(p.UserId, p.ChannelId, p.LastPinTimestamp, ProtoMapper.ToCore(p.Attributes),
                    p.HasExpectedVersion ? p.ExpectedVersion : null, ct);
                if (pending.IsCompletedSuccessfully) return new(Pins(id, pending.Result, r.OmitStates));
                return PinsSlow(id, pending, r.OmitStates);
            }
            case OpCase.AddMentions:
            {
                RequestValidator.Validate(r.AddMentions, limits);
                var m = r.AddMentions;
                var result = new AddMentionsResponse();
                var users = ReadStatesService.Rent(m.UserIds, out int n);
                return Finish(id, engine.AddMentionsAsync(m.ChannelId, m.MessageId, users.AsMemory(0, n), ProtoMapper.ToCore(m.Attributes), result.SkippedAtLimitUserIds, ct),
                    users, result, static (response, counted, added) => { added.Counted = (uint)counted; response.AddMentions = added; });
            }
            case OpCase.RemoveMentions:
            {
                RequestValidator.Validate(r.RemoveMentions, limits);
                var m = r.RemoveMentions;
                var users = ReadStatesService.Rent(m.UserIds, out int n);
                return Finish(id, engine.RemoveMentionsAsync(m.ChannelId, m.MessageId, users.AsMemory(0, n), ct),
                    users, (object?)null, static (response, removed, _) => response.RemoveMentions = new RemoveMentionsResponse { Uncounted = (uint)removed });
            }
            case OpCase.Get:
            {
                RequestValidator.Validate(r.Get, limits);
                var read = GetCall.Start(engine, r.Get, ct);
                if (read.Pending.IsCompletedSuccessfully) return new(new StreamResponse { Id = id, Get = read.Finish() });
                return GetSlow(id, read);
            }
            case OpCase.Delete:
            {
                RequestValidator.Validate(r.Delete, limits);
                var d = r.Delete;
                var ids = ReadStatesService.RentPair(d.ChannelIds, d.ExpectedVersions, out int n, out int e);
                return Finish(id, engine.DeleteAsync(d.UserId, ids.AsMemory(0, n), d.All, ids.AsMemory(n, e),
                    d.HasExpectedUserVersion ? d.ExpectedUserVersion : null, ct),
                    ids, (object?)null, static (response, deleted, _) => response.Delete = new DeleteResponse { Deleted = (uint)deleted });
            }
            default:
                throw RpcErrors.InvalidArgument("op", "Each StreamRequest must carry one operation (ack, bulk_ack, ack_parent, ack_pins, add_mentions, remove_mentions, get, delete or cancel).");
        }
    }

    private const string LacksWrite = "The caller lacks the write permission this operation needs.";
    private const string LacksRead = "The caller lacks the read permission this operation needs.";

    private static Grpc.Core.RpcException Denied(string message) =>
        new(new Grpc.Core.Status(Grpc.Core.StatusCode.PermissionDenied, message));

    private static AckResponse Ack(in AckResult r, bool omitState) => omitState ? new AckResponse { Applied = r.Applied } : ProtoMapper.ToProto(r);

    private static StreamResponse Pins(ulong id, in AckResult r, bool omitState) =>
        new() { Id = id, AckPins = new AckPinsResponse { Applied = r.Applied, State = omitState ? null : ProtoMapper.ToProto(r.State) } };

    private static async ValueTask<StreamResponse> AckSlow(ulong id, ValueTask<AckResult> pending, bool omitState) =>
        new() { Id = id, Ack = Ack(await pending.ConfigureAwait(false), omitState) };

    private static async ValueTask<StreamResponse> AckParentSlow(ulong id, ValueTask<int> pending) =>
        new() { Id = id, AckParent = new AckParentResponse { Acked = (uint)await pending.ConfigureAwait(false) } };

    private static async ValueTask<StreamResponse> PinsSlow(ulong id, ValueTask<AckResult> pending, bool omitState) => Pins(id, await pending.ConfigureAwait(false), omitState);

    private static async ValueTask<StreamResponse> BulkSlow(ulong id, BulkAckCall bulk, bool omitStates)
    {
        try
        {
            await bulk.Pending.ConfigureAwait(false);
        }
        catch
        {
            bulk.Abandon();
            throw;
        }
        return new StreamResponse { Id = id, BulkAck = bulk.Finish(omitStates) };
    }

    private static async ValueTask<StreamResponse> GetSlow(ulong id, GetCall read)
    {
        try
        {
            await read.Pending.ConfigureAwait(false);
        }
        catch
        {
            read.Abandon();
            throw;
        }
        return new StreamResponse { Id = id, Get = read.Finish() };
    }

    /// <summary>The id-list operations: return the pooled ids on both paths, then fill the response.</summary>
    private static ValueTask<StreamResponse> Finish<TExtra>(ulong id, ValueTask<int> pending, ulong[] ids, TExtra extra, Action<StreamResponse, int, TExtra> fill)
    {
        if (!pending.IsCompletedSuccessfully) return Slow(id, pending, ids, extra, fill);
        ArrayPool<ulong>.Shared.Return(ids);
        var response = new StreamResponse { Id = id };
        fill(response, pending.Result, extra);
        return new(response);

        static async ValueTask<StreamResponse> Slow(ulong id, ValueTask<int> pending, ulong[] ids, TExtra extra, Action<StreamResponse, int, TExtra> fill)
        {
            int value;
            try
            {
                value = await pending.ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(ids);
            }
            var response = new StreamResponse { Id = id };
            fill(response, value, extra);
            return response;
        }
    }
}
