using System.Buffers;
using Grpc.Core;
using ReadStates.Api.V1;
using ReadStates.Core;

namespace ReadStates.Api;

/// <summary>
/// The gRPC edge: validate, map, call the engine, map back. Engine errors become statuses in
/// <see cref="EngineErrorInterceptor"/>. Every RPC declares the permission it needs with
/// <see cref="RequiresPermissionAttribute"/> (Get reads, everything else writes); an RPC without one is
/// denied to every caller.
/// </summary>
internal sealed class ReadStatesService(ReadStateEngine engine, RequestLimits limits, UserSnapshotPool snapshots) : V1.ReadStates.ReadStatesBase
{
    [RequiresPermission(Permission.Write)]
    public override async Task<AckResponse> Ack(AckRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request);
        var command = ProtoMapper.ToCore(request);
        var result = await engine.AckAsync(request.UserId, command, context.CancellationToken).ConfigureAwait(false);
        return ProtoMapper.ToProto(result);
    }

    [RequiresPermission(Permission.Write)]
    public override async Task<BulkAckResponse> BulkAck(BulkAckRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        int n = request.Entries.Count;
        var commands = ArrayPool<AckCommand>.Shared.Rent(n);
        var results = ArrayPool<AckResult>.Shared.Rent(n);
        try
        {
            for (int i = 0; i < n; i++) commands[i] = ProtoMapper.ToCore(request.Entries[i]);
            await engine.BulkAckAsync(request.UserId, commands.AsMemory(0, n), results.AsMemory(0, n), context.CancellationToken).ConfigureAwait(false);
            var response = new BulkAckResponse();
            for (int i = 0; i < n; i++) response.Results.Add(ProtoMapper.ToProto(results[i]));
            return response;
        }
        finally
        {
            ArrayPool<AckCommand>.Shared.Return(commands);
            ArrayPool<AckResult>.Shared.Return(results);
        }
    }

    [RequiresPermission(Permission.Write)]
    public override async Task<AckParentResponse> AckParent(AckParentRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request);
        int acked = await engine.AckParentAsync(request.UserId, request.ParentId, request.MessageId, context.CancellationToken).ConfigureAwait(false);
        return new AckParentResponse { Acked = (uint)acked };
    }

    [RequiresPermission(Permission.Write)]
    public override async Task<AckPinsResponse> AckPins(AckPinsRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request);
        var attributes = ProtoMapper.ToCore(request.Attributes);
        var result = await engine.AckPinsAsync(request.UserId, request.ChannelId, request.LastPinTimestamp, attributes, context.CancellationToken).ConfigureAwait(false);
        return new AckPinsResponse { Applied = result.Applied, State = ProtoMapper.ToProto(result.State) };
    }

    [RequiresPermission(Permission.Write)]
    public override async Task<AddMentionsResponse> AddMentions(AddMentionsRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var attributes = ProtoMapper.ToCore(request.Attributes);
        var response = new AddMentionsResponse();
        var users = Rent(request.UserIds, out int n);
        try
        {
            int counted = await engine.AddMentionsAsync(request.ChannelId, request.MessageId, users.AsMemory(0, n), attributes,
                response.SkippedAtLimitUserIds, context.CancellationToken).ConfigureAwait(false);
            response.Counted = (uint)counted;
            return response;
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(users);
        }
    }

    [RequiresPermission(Permission.Write)]
    public override async Task<RemoveMentionsResponse> RemoveMentions(RemoveMentionsRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var users = Rent(request.UserIds, out int n);
        try
        {
            int uncounted = await engine.RemoveMentionsAsync(request.ChannelId, request.MessageId, users.AsMemory(0, n), context.CancellationToken).ConfigureAwait(false);
            return new RemoveMentionsResponse { Uncounted = (uint)uncounted };
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(users);
        }
    }

    [RequiresPermission(Permission.Read)]
    public override async Task<GetResponse> Get(GetRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var snapshot = snapshots.Get();
        var channels = Rent(request.ChannelIds, out int n);
        try
        {
            await engine.ReadAsync(request.UserId, channels.AsMemory(0, n), snapshot, context.CancellationToken).ConfigureAwait(false);
            return GetResponseBuilder.From(snapshot);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(channels);
            snapshots.Return(snapshot);
        }
    }

    [RequiresPermission(Permission.Write)]
    public override async Task<DeleteResponse> Delete(DeleteRequest request, ServerCallContext context)
    {
        RequestValidator.Validate(request, limits);
        var channels = Rent(request.ChannelIds, out int n);
        try
        {
            int deleted = await engine.DeleteAsync(request.UserId, channels.AsMemory(0, n), request.All, context.CancellationToken).ConfigureAwait(false);
            return new DeleteResponse { Deleted = (uint)deleted };
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(channels);
        }
    }

    private static ulong[] Rent(Google.Protobuf.Collections.RepeatedField<ulong> ids, out int count)
    {
        count = ids.Count;
        var array = ArrayPool<ulong>.Shared.Rent(Math.Max(count, 1));
        ids.CopyTo(array, 0);
        return array;
    }
}
