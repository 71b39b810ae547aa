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

    /// <summary>A plain status with only a message.</summary>
    public static RpcException Status(Code code, string message) =>
        new Google.Rpc.Status { Code = (int)code, Message = message }.ToRpcException();

    /// <summary>The domain of our <c>google.rpc.ErrorInfo</c> details (AIP-193: the service's name).</summary>
    public const string Domain = "readstates.v1";

    /// <summary>
    /// A conditional write whose expected version is stale: ABORTED, as AIP-154 prescribes for an etag that does
    /// not match (the client re-reads and retries its read-modify-write), with an <c>ErrorInfo</c>
    /// (reason VERSION_MISMATCH; metadata userId, channelId, expectedVersion, currentVersion, entryIndex) and a
    /// <c>PreconditionFailure</c> naming the state (<c>users/{user}/channels/{channel}</c>, or <c>users/{user}</c>).
    /// </summary>
    public static RpcException VersionMismatch(Core.VersionMismatchException mismatch)
    {
        string subject = mismatch.ChannelId == 0 ? $"users/{mismatch.UserId}" : $"users/{mismatch.UserId}/channels/{mismatch.ChannelId}";
        var info = new ErrorInfo { Reason = "VERSION_MISMATCH", Domain = Domain };
        info.Metadata.Add("userId", Invariant(mismatch.UserId));
        info.Metadata.Add("channelId", Invariant(mismatch.ChannelId));
        info.Metadata.Add("expectedVersion", Invariant(mismatch.Expected));
        info.Metadata.Add("currentVersion", Invariant(mismatch.Current));
        if (mismatch.EntryIndex >= 0) info.Metadata.Add("entryIndex", Invariant((ulong)mismatch.EntryIndex));
        var status = new Google.Rpc.Status
        {
            Code = (int)Code.Aborted,
            Message = mismatch.Message,
            Details =
            {
                Any.Pack(info),
                Any.Pack(new PreconditionFailure
                {
                    Violations = { new PreconditionFailure.Types.Violation { Type = "VERSION", Subject = subject, Description = mismatch.Message } },
                }),
            },
        };
        return status.ToRpcException();
    }

    /// <summary>
    /// A sync read from a version the user has not reached: OUT_OF_RANGE (the gRPC status guide's code for a
    /// request past the valid range that a change of state could make valid), with an <c>ErrorInfo</c>
    /// (reason SINCE_VERSION_AHEAD; metadata userId, sinceVersion, currentVersion) and a BadRequest naming the field.
    /// </summary>
    public static RpcException VersionAhead(Core.VersionAheadException ahead, string field)
    {
        var info = new ErrorInfo { Reason = "SINCE_VERSION_AHEAD", Domain = Domain };
        info.Metadata.Add("userId", Invariant(ahead.UserId));
        info.Metadata.Add("sinceVersion", Invariant(ahead.Since));
        info.Metadata.Add("currentVersion", Invariant(ahead.Current));
        var status = new Google.Rpc.Status
        {
            Code = (int)Code.OutOfRange,
            Message = ahead.Message,
            Details =
            {
                Any.Pack(info),
                Any.Pack(new BadRequest { FieldViolations = { new BadRequest.Types.FieldViolation { Field = field, Description = ahead.Message } } }),
            },
        };
        return status.ToRpcException();
    }

    private static string Invariant(ulong value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

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
