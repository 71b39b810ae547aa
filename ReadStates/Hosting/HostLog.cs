using Microsoft.Extensions.Logging;

namespace ReadStates.Hosting;

internal static partial class HostLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Engine started on the {Store} store")]
    public static partial void EngineStarted(ILogger logger, string store);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Stopping: flushing every change to the {Store} store")]
    public static partial void Stopping(ILogger logger, string store);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Stopped; the {Store} store is closed")]
    public static partial void Stopped(ILogger logger, string store);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Prometheus metrics on {Url}")]
    public static partial void MetricsListening(ILogger logger, string url);
}
