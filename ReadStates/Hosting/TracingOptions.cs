using System.Globalization;

namespace ReadStates.Hosting;

/// <summary>Distributed tracing over OTLP, off by default. Bound from the <c>Tracing</c> configuration section.</summary>
public sealed class TracingOptions
{
    public const string GrpcProtocol = "grpc";
    public const string HttpProtocol = "http/protobuf";

    /// <summary>Export spans (RPC server span → engine miss → store call) over OTLP.</summary>
    public bool Enabled { get; set; }

    /// <summary>The collector; empty = the OTLP default (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, else http://localhost:4317).</summary>
    public string OtlpEndpoint { get; set; } = "";

    /// <summary><c>grpc</c> or <c>http/protobuf</c>.</summary>
    public string OtlpProtocol { get; set; } = GrpcProtocol;

    /// <summary>Share of new traces sampled (0–1); a caller's sampled trace is always followed.</summary>
    public double SampleRatio { get; set; } = 1.0;

    public bool IsHttpProtocol => string.Equals(OtlpProtocol.Trim(), HttpProtocol, StringComparison.OrdinalIgnoreCase);

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enabled) return errors;
        if (OtlpEndpoint.Length > 0 && (!Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
            errors.Add($"Tracing:OtlpEndpoint must be an http:// or https:// URL; got '{OtlpEndpoint}'.");
        if (!IsHttpProtocol && !string.Equals(OtlpProtocol.Trim(), GrpcProtocol, StringComparison.OrdinalIgnoreCase))
            errors.Add($"Tracing:OtlpProtocol must be '{GrpcProtocol}' or '{HttpProtocol}'; got '{OtlpProtocol}'.");
        if (SampleRatio is < 0 or > 1 || double.IsNaN(SampleRatio))
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"Tracing:SampleRatio must be between 0 and 1; got {SampleRatio}."));
        return errors;
    }
}
