using System.Buffers;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStates.Core;

namespace ReadStates.Api;

/// <summary>
/// The gRPC edge: validate, map, call the engine, map back. Engine errors become statuses in
/// <see cref="EngineErrorInterceptor"/>. One instance serves every call (registered as a singleton).
/// Every RPC declares the permission it needs with <see cref="RequiresPermissionAttribute"/> (Get and Watch
/// read, everything else writes; Stream checks each operation); an RPC without one is denied to every caller.
/// </summary>
/// <remarks>
/// The engine answers a resident user synchronously (a completed ValueTask), so each method checks
/// <c>IsCompletedSuccessfully</c> and builds the reply in place; only a miss (a store load) takes the
/// static local async slow path. Pooled arrays are returned on both paths.
/// </remarks>
internal sealed partial class ReadStatesService(ReadStateEngine engine, RequestLimits limits, WatchLimits watchLimits, Streaming.StreamErrors streamErrors) : V1.ReadStates.ReadStatesBase
{
    [RequiresPermission(Permission.Write)]
    public override Task<AckResponse> Ack(AckRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request);
        var pending = engine.AckAsync(request.UserId, ProtoMapper.ToCore(request), context.CancellationToken);
        if (pending.IsCompletedSuccessfully) return Task.FromResult(ProtoMapper.ToProto(pending.Result));
        return Slow(pending);

        static async Task<AckResponse> Slow(ValueTask<AckResult> pending) => ProtoMapper.ToProto(await pending.ConfigureAwait(false));
    }

    [RequiresPermission(Permission.Write)]
    public override Task<BulkAckResponse> BulkAck(BulkAckRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var bulk = BulkAckCall.Start(engine, request, context.CancellationToken);
        if (bulk.Pending.IsCompletedSuccessfully) return Task.FromResult(bulk.Finish());
        return Slow(bulk);

        static async Task<BulkAckResponse> Slow(BulkAckCall bulk)
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
            return bulk.Finish();
        }
    }

    [RequiresPermission(Permission.Write)]
    public override Task<AckParentResponse> AckParent(AckParentRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request);
        var pending = engine.AckParentAsync(request.UserId, request.ParentId, request.MessageId,
            request.HasExpectedUserVersion ? request.ExpectedUserVersion : null, context.CancellationToken);
        if (pending.IsCompletedSuccessfully) return Task.FromResult(new AckParentResponse { Acked = (uint)pending.Result });
        return Slow(pending);

        static async Task<AckParentResponse> Slow(ValueTask<int> pending) => new() { Acked = (uint)await pending.ConfigureAwait(false) };
    }

    [RequiresPermission(Permission.Write)]
    public override Task<AckPinsResponse> AckPins(AckPinsRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request);
        var attributes = ProtoMapper.ToCore(request.Attributes);
        var pending = engine.AckPinsAsync(request.UserId, request.ChannelId, request.LastPinTimestamp, attributes,
            request.HasExpectedVersion ? request.ExpectedVersion : null, context.CancellationToken);
        if (pending.IsCompletedSuccessfully) return Task.FromResult(ToProto(pending.Result));
        return Slow(pending);

        static AckPinsResponse ToProto(in AckResult r) => new() { Applied = r.Applied, State = ProtoMapper.ToProto(r.State) };
        static async Task<AckPinsResponse> Slow(ValueTask<AckResult> pending) => ToProto(await pending.ConfigureAwait(false));
    }

    [RequiresPermission(Permission.Write)]
    public override Task<AddMentionsResponse> AddMentions(AddMentionsRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var response = new AddMentionsResponse();
        var users = Rent(request.UserIds, out int n);
        ValueTask<int> pending;
        try
        {
            pending = engine.AddMentionsAsync(request.ChannelId, request.MessageId, users.AsMemory(0, n), ProtoMapper.ToCore(request.Attributes),
                response.SkippedAtLimitUserIds, context.CancellationToken);
        }
        catch
        {
            ArrayPool<ulong>.Shared.Return(users);
            throw;
        }
        if (!pending.IsCompletedSuccessfully) return Slow(pending, users, response);
        ArrayPool<ulong>.Shared.Return(users);
        response.Counted = (uint)pending.Result;
        return Task.FromResult(response);

        static async Task<AddMentionsResponse> Slow(ValueTask<int> pending, ulong[] users, AddMentionsResponse response)
        {
            try
            {
                response.Counted = (uint)await pending.ConfigureAwait(false);
                return response;
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(users);
            }
        }
    }

    [RequiresPermission(Permission.Write)]
    public override Task<RemoveMentionsResponse> RemoveMentions(RemoveMentionsRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var users = Rent(request.UserIds, out int n);
        ValueTask<int> pending;
        try
        {
            pending = engine.RemoveMentionsAsync(request.ChannelId, request.MessageId, users.AsMemory(0, n), context.CancellationToken);
        }
        catch
        {
            ArrayPool<ulong>.Shared.Return(users);
            throw;
        }
        if (!pending.IsCompletedSuccessfully) return Slow(pending, users);
        ArrayPool<ulong>.Shared.Return(users);
        return Task.FromResult(new RemoveMentionsResponse { Uncounted = (uint)pending.Result });

        static async Task<RemoveMentionsResponse> Slow(ValueTask<int> pending, ulong[] users)
        {
            try
            {
                return new RemoveMentionsResponse { Uncounted = (uint)await pending.ConfigureAwait(false) };
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(users);
            }
        }
    }

    [RequiresPermission(Permission.Read)]
    public override Task<GetResponse> Get(GetRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var read = GetCall.Start(engine, request, context.CancellationToken);
        if (read.Pending.IsCompletedSuccessfully) return Task.FromResult(read.Finish());
        return Slow(read);

        static async Task<GetResponse> Slow(GetCall read)
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
            return read.Finish();
        }
    }

    [RequiresPermission(Permission.Write)]
    public override Task<DeleteResponse> Delete(DeleteRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var ids = RentPair(request.ChannelIds, request.ExpectedVersions, out int n, out int e);
        ValueTask<int> pending;
        try
        {
            pending = engine.DeleteAsync(request.UserId, ids.AsMemory(0, n), request.All, ids.AsMemory(n, e),
                request.HasExpectedUserVersion ? request.ExpectedUserVersion : null, context.CancellationToken);
        }
        catch
        {
            ArrayPool<ulong>.Shared.Return(ids);
            throw;
        }
        if (!pending.IsCompletedSuccessfully) return Slow(pending, ids);
        ArrayPool<ulong>.Shared.Return(ids);
        return Task.FromResult(new DeleteResponse { Deleted = (uint)pending.Result });

        static async Task<DeleteResponse> Slow(ValueTask<int> pending, ulong[] ids)
        {
            try
            {
                return new DeleteResponse { Deleted = (uint)await pending.ConfigureAwait(false) };
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(ids);
            }
        }
    }

    /// <summary>Multi-device sync; the session (Api/Watch/) owns the stream's subscriptions and ends them with it.</summary>
    [RequiresPermission(Permission.Read)]
    public override Task Watch(IAsyncStreamReader<WatchRequest> requestStream, IServerStreamWriter<WatchResponse> responseStream, ServerCallContext context) =>
        new Watch.WatchSession(engine, watchLimits, responseStream, context.CancellationToken).RunAsync(requestStream);

    internal static ulong[] Rent(Google.Protobuf.Collections.RepeatedField<ulong> ids, out int count)
    {
        count = ids.Count;
        var array = ArrayPool<ulong>.Shared.Rent(Math.Max(count, 1));
        ids.CopyTo(array, 0);
        return array;
    }

    /// <summary>Two id lists in one pooled array: <paramref name="first"/> at [0, n), <paramref name="second"/> at [n, n + m).</summary>
    internal static ulong[] RentPair(Google.Protobuf.Collections.RepeatedField<ulong> first, Google.Protobuf.Collections.RepeatedField<ulong> second, out int n, out int m)
    {
        n = first.Count;
        m = second.Count;
        var array = ArrayPool<ulong>.Shared.Rent(Math.Max(n + m, 1));
        first.CopyTo(array, 0);
        second.CopyTo(array, n);
        return array;
    }
}
