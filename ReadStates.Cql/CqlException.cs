using System.Diagnostics.CodeAnalysis;

namespace ReadStates.Cql;

/// <summary>
/// A CQL failure: connection lost, timeout, protocol violation, or (as <see cref="CqlServerException"/>) an
/// ERROR frame. <see cref="IsTransient"/> says whether the same request may succeed if retried.
/// </summary>
public class CqlException : Exception
{
    public CqlException() { }

    public CqlException(string message) : base(message) { }

    public CqlException(string message, Exception? innerException) : base(message, innerException) { }

    public CqlException(string message, bool isTransient, Exception? innerException = null) : base(message, innerException)
        => IsTransient = isTransient;

    /// <summary>True when retrying (an idempotent request) may succeed: network errors, timeouts, overload.</summary>
    public virtual bool IsTransient { get; }

    /// <summary>True when the request may have reached the server (so only idempotent requests may be retried).</summary>
    public bool MayHaveBeenApplied { get; init; } = true;
}

/// <summary>An ERROR frame from the server, with its code and the code-specific extras.</summary>
public sealed class CqlServerException : CqlException
{
    public CqlServerException(CqlErrorCode code, string message) : base($"{message} (CQL error 0x{(int)code:X4})")
    {
        Code = code;
        ServerMessage = message;
    }

    public CqlServerException() : this(CqlErrorCode.ServerError, "") { }

    public CqlServerException(string message) : this(CqlErrorCode.ServerError, message) { }

    public CqlServerException(string message, Exception? innerException) : base(message, innerException) => ServerMessage = message;

    public CqlErrorCode Code { get; }
    public string ServerMessage { get; } = "";
    public CqlConsistency? Consistency { get; init; }
    public int Required { get; init; }
    public int Alive { get; init; }
    public int Received { get; init; }
    public int BlockFor { get; init; }
    public int FailureCount { get; init; }
    public string? WriteType { get; init; }
    public bool DataPresent { get; init; }
    public string? Keyspace { get; init; }
    public string? Table { get; init; }
    /// <summary>For <see cref="CqlErrorCode.Unprepared"/>: the statement id the server does not know.</summary>
    public byte[]? UnpreparedId { get; init; }

    public override bool IsTransient => Code is CqlErrorCode.Overloaded or CqlErrorCode.IsBootstrapping or CqlErrorCode.Unavailable
        or CqlErrorCode.WriteTimeout or CqlErrorCode.ReadTimeout or CqlErrorCode.ServerError or CqlErrorCode.TruncateError;

    /// <summary>Decodes the body of an ERROR frame.</summary>
    internal static CqlServerException Decode(ReadOnlySpan<byte> body)
    {
        var r = new CqlReader(body);
        var code = (CqlErrorCode)r.ReadInt();
        string message = r.ReadString();
        switch (code)
        {
            case CqlErrorCode.Unavailable:
                return new CqlServerException(code, message)
                { Consistency = (CqlConsistency)r.ReadUShort(), Required = r.ReadInt(), Alive = r.ReadInt() };
            case CqlErrorCode.WriteTimeout:
                return new CqlServerException(code, message)
                { Consistency = (CqlConsistency)r.ReadUShort(), Received = r.ReadInt(), BlockFor = r.ReadInt(), WriteType = r.ReadString() };
            case CqlErrorCode.ReadTimeout:
                return new CqlServerException(code, message)
                { Consistency = (CqlConsistency)r.ReadUShort(), Received = r.ReadInt(), BlockFor = r.ReadInt(), DataPresent = r.ReadByte() != 0 };
            case CqlErrorCode.ReadFailure:
            {
                var cl = (CqlConsistency)r.ReadUShort();
                int received = r.ReadInt(), blockFor = r.ReadInt(), failures = r.ReadInt();
                return new CqlServerException(code, message)
                { Consistency = cl, Received = received, BlockFor = blockFor, FailureCount = failures, DataPresent = r.ReadByte() != 0 };
            }
            case CqlErrorCode.WriteFailure:
            {
                var cl = (CqlConsistency)r.ReadUShort();
                int received = r.ReadInt(), blockFor = r.ReadInt(), failures = r.ReadInt();
                return new CqlServerException(code, message)
                { Consistency = cl, Received = received, BlockFor = blockFor, FailureCount = failures, WriteType = r.ReadString() };
            }
            case CqlErrorCode.FunctionFailure:
                return new CqlServerException(code, message) { Keyspace = r.ReadString() };
            case CqlErrorCode.AlreadyExists:
                return new CqlServerException(code, message) { Keyspace = r.ReadString(), Table = r.ReadString() };
            case CqlErrorCode.Unprepared:
                return new CqlServerException(code, message) { UnpreparedId = r.ReadShortBytes().ToArray() };
            default:
                return new CqlServerException(code, message);
        }
    }
}

/// <summary>Throw helpers kept out of line so the callers stay small.</summary>
internal static class CqlThrow
{
    [DoesNotReturn]
    public static void Protocol(string message) => throw new CqlException("CQL protocol violation: " + message, isTransient: false);

    [DoesNotReturn]
    public static T Protocol<T>(string message) => throw new CqlException("CQL protocol violation: " + message, isTransient: false);

    [DoesNotReturn]
    public static void Truncated() => throw new CqlException("CQL protocol violation: truncated message.", isTransient: false);

    [DoesNotReturn]
    public static void TooLarge(int length) => throw new CqlException($"CQL frame body of {length} bytes exceeds the 256 MB limit.", isTransient: false);
}
