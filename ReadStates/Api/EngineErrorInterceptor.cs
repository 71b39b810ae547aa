using Google.Rpc;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using ReadStates.Core;

namespace ReadStates.Api;

/// <summary>
/// Maps engine exceptions to gRPC statuses, so the service methods stay free of error plumbing:
/// a passed limit is INVALID_ARGUMENT with a BadRequest naming the field, a full write-behind backlog is
/// RESOURCE_EXHAUSTED (store slow) or UNAVAILABLE (store failing), a failed load is UNAVAILABLE.
/// </summary>
internal sealed class EngineErrorInterceptor(ILogger<EngineErrorInterceptor> logger) : Interceptor
{
    private static readonly TimeSpan BackoffHint = TimeSpan.FromSeconds(1);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
        {
            ApiLog.Rejected(logger, context.Method, ex.Status.Detail);
            throw;
        }
    }

    // Server streaming (Watch, when it comes) gets the same mapping.
    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
    }

    /// <summary>The request field that would pass the states limit: the channel of a single call, or the entry of a bulk one.</summary>
    private static string LimitField(StateLimitException limit) =>
        limit.EntryIndex >= 0 ? $"entries[{limit.EntryIndex}].channel_id" : "channel_id";

    private Exception Map(Exception ex, ServerCallContext context)
    {
        switch (ex)
        {
            case StateLimitException limit:
                ApiLog.Rejected(logger, context.Method, limit.Message);
                return RpcErrors.InvalidArgument(LimitField(limit), limit.Message);
            case BackpressureException shed:
                var code = shed.StoreDown ? Code.Unavailable : Code.ResourceExhausted;
                ApiLog.Shed(logger, context.Method, code.ToString(), shed.Message);
                return RpcErrors.Retryable(code, shed.Message, BackoffHint);
            case StoreUnavailableException store:
                ApiLog.StoreUnavailable(logger, context.Method, store);
                return RpcErrors.Retryable(Code.Unavailable, store.Message, BackoffHint);
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                return new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "The call was cancelled."));
            default:
                ApiLog.Unexpected(logger, context.Method, ex);
                return new RpcException(new Grpc.Core.Status(StatusCode.Internal, "Internal error."));
        }
    }
}
