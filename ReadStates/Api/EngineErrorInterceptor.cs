using Google.Rpc;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using ReadStates.Core;

namespace ReadStates.Api;

/// <summary>
/// Maps engine exceptions to gRPC statuses, so the service methods stay free of error plumbing:
/// a passed limit is INVALID_ARGUMENT with a BadRequest naming the field, a stale expected version ABORTED
/// (AIP-154) with ErrorInfo and PreconditionFailure, a since version above the user's OUT_OF_RANGE, a full
/// write-behind backlog RESOURCE_EXHAUSTED (store slow) or UNAVAILABLE (store failing), a failed load UNAVAILABLE.
/// </summary>
internal sealed class EngineErrorInterceptor(ILogger<EngineErrorInterceptor> logger) : Interceptor
{
    private static readonly TimeSpan BackoffHint = TimeSpan.FromSeconds(1);
    private readonly ILogger _logger = logger;

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        // Fast path: a resident user's call completes synchronously, so most calls pass through here
        // without an async state machine or a second Task. Only a pending call pays for the await.
        Task<TResponse> task;
        try
        {
            task = continuation(request, context);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
        {
            ApiLog.Rejected(_logger, context.Method, ex.Status.Detail);
            throw;
        }
        if (task.IsCompletedSuccessfully) return task;
        return Awaited(this, task, context);

        static async Task<TResponse> Awaited(EngineErrorInterceptor self, Task<TResponse> task, ServerCallContext context)
        {
            try
            {
                return await task.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not RpcException)
            {
                throw self.Map(ex, context);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
            {
                ApiLog.Rejected(self._logger, context.Method, ex.Status.Detail);
                throw;
            }
        }
    }

    // Streaming calls get the same mapping (Stream also maps each operation's own errors, in StreamErrors).
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

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            throw Map(ex, context);
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.InvalidArgument or StatusCode.ResourceExhausted)
        {
            ApiLog.Rejected(_logger, context.Method, ex.Status.Detail);
            throw;
        }
    }

    /// <summary>The request field that would pass the states limit: the channel of a single call, or the entry of a bulk one.</summary>
    private static string LimitField(StateLimitException limit) =>
        limit.EntryIndex >= 0 ? $"entries[{limit.EntryIndex}].channel_id" : "channel_id";

    internal Exception Map(Exception ex, ServerCallContext context)
    {
        switch (ex)
        {
            case StateLimitException limit:
                ApiLog.Rejected(_logger, context.Method, limit.Message);
                return RpcErrors.InvalidArgument(LimitField(limit), limit.Message);
            case VersionMismatchException mismatch:
                ApiLog.Rejected(_logger, context.Method, mismatch.Message);
                return RpcErrors.VersionMismatch(mismatch);
            case VersionAheadException ahead:
                ApiLog.Rejected(_logger, context.Method, ahead.Message);
                return RpcErrors.VersionAhead(ahead, "since_version");
            case BackpressureException shed:
                var code = shed.StoreDown ? Code.Unavailable : Code.ResourceExhausted;
                ApiLog.Shed(_logger, context.Method, code.ToString(), shed.Message);
                return RpcErrors.Retryable(code, shed.Message, BackoffHint);
            case StoreUnavailableException store:
                ApiLog.StoreUnavailable(_logger, context.Method, store);
                return RpcErrors.Retryable(Code.Unavailable, store.Message, BackoffHint);
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                return new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "The call was cancelled."));
            default:
                ApiLog.Unexpected(_logger, context.Method, ex);
                return new RpcException(new Grpc.Core.Status(StatusCode.Internal, "Internal error."));
        }
    }
}
