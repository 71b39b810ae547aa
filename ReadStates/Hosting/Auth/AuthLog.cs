using Microsoft.Extensions.Logging;

namespace ReadStates.Hosting.Auth;

internal static partial class AuthLog
{
    [LoggerMessage(EventId = 5101, Level = LogLevel.Debug, Message = "Denied {Method} ({Status}): {Reason}")]
    public static partial void Denied(ILogger logger, string method, string status, string reason);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Debug, Message = "Bearer token rejected: {Reason}")]
    public static partial void TokenRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Authentication is off: every caller may read and write (allowed because {Why})")]
    public static partial void AuthenticationOff(ILogger logger, string why);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Information, Message = "Authentication on: {ApiKeys} API keys, JWT {Jwt}; reflection {Reflection}, metrics {Metrics}")]
    public static partial void AuthenticationOn(ILogger logger, int apiKeys, string jwt, string reflection, string metrics);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "RPC {Method} declares no permission ([RequiresPermission]): every call to it is denied")]
    public static partial void Undeclared(ILogger logger, string method);
}
