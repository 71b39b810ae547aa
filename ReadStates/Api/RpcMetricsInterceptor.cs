using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace ReadStates.Api;

/// <summary>
/// Times every call and records it by method and final status (the outermost interceptor, so it sees
/// the status <see cref="EngineErrorInterceptor"/> mapped). A singleton; a call that completes
/// synchronously returns its own task, so the fast path adds two timestamps and one histogram record.
/// </summary>
internal sealed class RpcMetricsInterceptor(RpcMetrics metrics) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        long start = Stopwatch.GetTimestamp();
        Task<TResponse> task;
        try
        {
            task = continuation(request, context);
        }
        catch (Exception ex)
        {
            metrics.Record(context.Method, StatusOf(ex), Stopwatch.GetElapsedTime(start));
            throw;
        }
        if (task.IsCompletedSuccessfully)
        {
            metrics.Record(context.Method, StatusCode.OK, Stopwatch.GetElapsedTime(start));
            return task;
        }
        return Awaited(task, context.Method, start);

        async Task<TResponse> Awaited(Task<TResponse> pending, string method, long started)
        {
            try
            {
                var response = await pending.ConfigureAwait(false);
                metrics.Record(method, StatusCode.OK, Stopwatch.GetElapsedTime(started));
                return response;
            }
            catch (Exception ex)
            {
                metrics.Record(method, StatusOf(ex), Stopwatch.GetElapsedTime(started));
                throw;
            }
        }
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        Timed(context, () => continuation(request, responseStream, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        TimedResult(context, () => continuation(requestStream, context));

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        Timed(context, () => continuation(requestStream, responseStream, context));

    // Streams are long and rare next to unary calls: a closure per stream is fine.
    private async Task Timed(ServerCallContext context, Func<Task> call)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            await call().ConfigureAwait(false);
            metrics.Record(context.Method, context.Status.StatusCode, Stopwatch.GetElapsedTime(start));
        }
        catch (Exception ex)
        {
            metrics.Record(context.Method, StatusOf(ex), Stopwatch.GetElapsedTime(start));
            throw;
        }
    }

    private async Task<TResponse> TimedResult<TResponse>(ServerCallContext context, Func<Task<TResponse>> call)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            var response = await call().ConfigureAwait(false);
            metrics.Record(context.Method, context.Status.StatusCode, Stopwatch.GetElapsedTime(start));
            return response;
        }
        catch (Exception ex)
        {
            metrics.Record(context.Method, StatusOf(ex), Stopwatch.GetElapsedTime(start));
            throw;
        }
    }

    // What grpc-dotnet answers for an exception leaving the handlers: its status, CANCELLED for a
    // cancelled call, UNKNOWN for anything else.
    private static StatusCode StatusOf(Exception ex) => ex switch
    {
        RpcException rpc => rpc.StatusCode,
        OperationCanceledException => StatusCode.Cancelled,
        _ => StatusCode.Unknown,
    };
}
