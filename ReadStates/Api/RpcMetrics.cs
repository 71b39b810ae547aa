using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Grpc.Core;

namespace ReadStates.Api;

/// <summary>
/// The gRPC edge's instruments (meter <c>ReadStates.Rpc</c>): call duration by method and status code
/// (OpenTelemetry's <c>rpc.server.call.duration</c>, exported as
/// <c>rpc_server_call_duration_seconds{rpc_method, rpc_response_status_code}</c>) and the calls shed with
/// RESOURCE_EXHAUSTED or UNAVAILABLE. Recording takes two prepared tags and allocates nothing.
/// </summary>
internal sealed class RpcMetrics : IDisposable
{
    public const string MeterName = "ReadStates.Rpc";
    private const string MethodTag = "rpc.method";
    private const string StatusTag = "rpc.response.status_code";

    // Unary calls here take tens of µs to a store round trip; streams last as long as the caller keeps them.
    private static readonly double[] Buckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    // Canonical names, indexed by the status code, so a tag value is a shared string, never a boxed int.
    private static readonly string[] StatusNames =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    private const int MaxMethods = 256;
    private readonly ConcurrentDictionary<string, string> _methods = new(ReferenceEqualityComparer.Instance);
    private readonly Meter _meter;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _shed;

    public RpcMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _duration = _meter.CreateHistogram("rpc.server.call.duration", "s", "Duration of gRPC calls handled, by method and status code.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });
        _shed = _meter.CreateCounter<long>("readstates.rpc.shed", "{call}",
            "Calls refused to protect unwritten changes: RESOURCE_EXHAUSTED (store slow) or UNAVAILABLE (store failing), by method.");
    }

    public bool Enabled => _duration.Enabled;

    public void Record(string method, StatusCode code, TimeSpan elapsed)
    {
        var methodTag = new KeyValuePair<string, object?>(MethodTag, MethodName(method));
        var statusTag = new KeyValuePair<string, object?>(StatusTag, NameOf(code));
        _duration.Record(elapsed.TotalSeconds, methodTag, statusTag);
        if (code is StatusCode.ResourceExhausted or StatusCode.Unavailable) _shed.Add(1, methodTag, statusTag);
    }

    internal static string NameOf(StatusCode code) => (uint)code < (uint)StatusNames.Length ? StatusNames[(int)code] : "UNKNOWN";

    /// <summary>"/readstates.v1.ReadStates/Ack" → "readstates.v1.ReadStates/Ack", computed once per method string.</summary>
    private string MethodName(string method)
    {
        if (_methods.TryGetValue(method, out var name)) return name;
        name = method.StartsWith('/') ? method[1..] : method;
        if (_methods.Count < MaxMethods) _methods.TryAdd(method, name);
        return name;
    }

    public void Dispose() => _meter.Dispose();
}
