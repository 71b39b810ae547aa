using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace ReadStates.Api;

/// <summary>Builds rich gRPC errors: a <c>google.rpc.Status</c> with details, carried in the trailers.</summary>
internal static class RpcErrors
{
    public static RpcException InvalidArgument(string message, IEnumerable<BadRequest.Types.FieldViolation> violations)
    {
        var status = new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = message,
            Details = { Any.Pack(new BadRequest { FieldViolations = { violations } }) },
        };
        return status.ToRpcException();
    }

    /// <summary>How long a client's gRPC retry policy should wait before its next attempt (gRFC A6).</summary>
    public const string RetryPushbackTrailer = "grpc-retry-pushback-ms";

    public static RpcException InvalidArgument(string field, string description) =>
        InvalidArgument(description, [new BadRequest.Types.FieldViolation { Field = field, Description = description }]);

    /// <summary>A retryable refusal; <paramref name="retryAfter"/> tells well-behaved clients how long to back off.</summary>
    public static RpcException Retryable(Code code, string message, TimeSpan retryAfter)
    {
        var status = new Google.Rpc.Status
        {
            Code = (int)code,
            Message = message,
            Details = { Any.Pack(new RetryInfo { RetryDelay = Duration.FromTimeSpan(retryAfter) }) },
        };
        var ex = status.ToRpcException();
        // gRPC clients' built-in retries (service config retryPolicy) read this trailer, not RetryInfo.
        ex.Trailers.Add(RetryPushbackTrailer, ((long)retryAfter.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        return ex;
    }
}
