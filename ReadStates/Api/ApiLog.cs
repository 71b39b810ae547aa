using Microsoft.Extensions.Logging;

namespace ReadStates.Api;

internal static partial class ApiLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Rejected {Method}: {Message}")]
    public static partial void Rejected(ILogger logger, string method, string message);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "{Method} shed load ({Code}): {Message}")]
    public static partial void Shed(ILogger logger, string method, string code, string message);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "{Method} failed: the store is unavailable")]
    public static partial void StoreUnavailable(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Error, Message = "{Method} failed unexpectedly")]
    public static partial void Unexpected(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Debug, Message = "Undecodable {Method} request: {Reason}")]
    public static partial void Undecodable(ILogger logger, string method, string reason);
}
