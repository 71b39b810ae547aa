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

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "Stop requested: flushing to the {Store} store while open calls drain (up to {DrainTimeout})")]
    public static partial void FlushingWhileDraining(ILogger logger, string store, TimeSpan drainTimeout);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning, Message = "The flush started at stop failed; the final flush retries it")]
    public static partial void EarlyFlushFailed(ILogger logger, Exception exception);
}
