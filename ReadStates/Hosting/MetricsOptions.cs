namespace ReadStates.Hosting;

/// <summary>
/// The Prometheus scrape endpoint. Bound from the <c>Metrics</c> configuration section. It has its own
/// HTTP/1.1 port because the gRPC port speaks only HTTP/2 without TLS, which scrapers do not.
/// </summary>
public sealed class MetricsOptions
{
    /// <summary>Serve <c>/metrics</c> at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Interface to listen on; loopback unless you say otherwise.</summary>
    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 9464;

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enabled) return errors;
        if (string.IsNullOrWhiteSpace(Host))
            errors.Add("Host must name an interface (e.g. 127.0.0.1 or 0.0.0.0).");
        if (Port is < 1 or > 65535)
            errors.Add($"Port must be between 1 and 65535; got {Port}.");
        return errors;
    }
}
