using Google.Rpc;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;

namespace ReadStates.Api.Streaming;

/// <summary>
/// Turns one failed <c>Stream</c> operation into its own status, with the unary RPCs' mapping (the same
/// BadRequest and RetryInfo details, logged the same way), so a caller handles errors one way for both.
/// </summary>
internal sealed class StreamErrors(EngineErrorInterceptor mapper, ILogger<StreamErrors> logger)
{
    public StreamResponse ToResponse(ulong id, Exception ex, PendingOperation op, ServerCallContext context)
    {
        Google.Rpc.Status status;
        if (ex is OperationCanceledException && op.Token.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            status = op.CancelledByCaller
                ? new Google.Rpc.Status { Code = (int)Code.Cancelled, Message = "Cancelled by StreamCancel before it was applied." }
                : new Google.Rpc.Status { Code = (int)Code.DeadlineExceeded, Message = $"Not done within timeout_ms = {op.TimeoutMs}; nothing was applied." };
        }
        else
        {
            var rpc = ex as RpcException ?? mapper.Map(ex, context) as RpcException;
            if (rpc is null)
                status = new Google.Rpc.Status { Code = (int)Code.Internal, Message = "Internal error." };
            else
            {
                if (ex is RpcException && rpc.StatusCode == StatusCode.InvalidArgument) ApiLog.Rejected(logger, context.Method, rpc.Status.Detail);
                status = rpc.GetRpcStatus() ?? new Google.Rpc.Status { Code = (int)rpc.StatusCode, Message = rpc.Status.Detail };
            }
        }
        var wire = new OperationStatus { Code = status.Code, Message = status.Message };
        wire.Details.Add(status.Details);
        return new StreamResponse { Id = id, Status = wire };
    }
}
