using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Console;

namespace ReadStates.Hosting;

/// <summary>Log output details that configuration alone gets wrong.</summary>
internal static class LoggingSetup
{
    public static void Configure(IServiceCollection services)
    {
        // Logging:Console:FormatterOptions applies to every console formatter. Its TimestampFormat ends with a
        // space that separates the timestamp from the level in the simple formatter; in JSON it would end up
        // inside the value ("...392Z "), which is no longer ISO-8601.
        services.PostConfigure<JsonConsoleFormatterOptions>(o => o.TimestampFormat = o.TimestampFormat?.TrimEnd());
    }
}
