using System.Globalization;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace ReadStates.Hosting;

/// <summary>
/// <c>ReadStates probe [--service NAME] [--address URL] [--timeout SECONDS]</c>: asks a running service's
/// grpc.health.v1 once and exits 0 when it answers SERVING, 1 otherwise (NOT_SERVING, unknown service,
/// unreachable, timed out), 2 on bad arguments. It never starts the service: it is what the image's
/// HEALTHCHECK runs, and what an exec probe can run where gRPC probes are not available.
/// </summary>
internal static class HealthProbe
{
    public const string Command = "probe";
    public const string DefaultAddress = "http://127.0.0.1:5000";
    public const int ExitServing = 0;
    public const int ExitNotServing = 1;
    public const int ExitUsage = 2;

    private const string Usage = "usage: ReadStates probe [--service liveness|readiness|NAME] [--address http://HOST:PORT] [--timeout SECONDS]";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        string service = HealthSetup.LivenessService;
        string address = DefaultAddress;
        double timeoutSeconds = 3;
        for (int i = 0; i < args.Length; i++)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--service" when value is not null:
                    service = value;
                    i++;
                    break;
                case "--address" when value is not null:
                    address = value.Contains("://", StringComparison.Ordinal) ? value : "http://" + value;
                    i++;
                    break;
                case "--timeout" when value is not null && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out timeoutSeconds) && timeoutSeconds is > 0 and <= 300:
                    i++;
                    break;
                default:
                    await error.WriteLineAsync($"probe: unexpected argument '{args[i]}'{Environment.NewLine}{Usage}").ConfigureAwait(false);
                    return ExitUsage;
            }
        }
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            await error.WriteLineAsync($"probe: --address must be http://HOST:PORT or https://HOST:PORT; got '{address}'{Environment.NewLine}{Usage}").ConfigureAwait(false);
            return ExitUsage;
        }

        var timeout = TimeSpan.FromSeconds(timeoutSeconds);
        using var handler = new SocketsHttpHandler { ConnectTimeout = timeout };
        using var channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = false });
        try
        {
            var reply = await new Health.HealthClient(channel)
                .CheckAsync(new HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow + timeout).ResponseAsync.ConfigureAwait(false);
            await output.WriteLineAsync($"{service}: {reply.Status}").ConfigureAwait(false);
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving ? ExitServing : ExitNotServing;
        }
        catch (RpcException ex)
        {
            await output.WriteLineAsync($"{service}: {ex.StatusCode} ({ex.Status.Detail})").ConfigureAwait(false);
            return ExitNotServing;
        }
    }
}
