using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ReadStates.Core;

namespace ReadStates.Hosting;

/// <summary>The health services the probes, load balancers and the <c>probe</c> command ask.</summary>
internal static class HealthSetup
{
    /// <summary>
    /// grpc.health.v1: "liveness" (the process and its write-behind loop run), "readiness" (the store keeps
    /// up), and "" / "readstates.v1.ReadStates" = readiness, which is what clients and load balancers ask.
    /// </summary>
    public static void Add(IServiceCollection services)
    {
        services.AddGrpcHealthChecks(o =>
        {
            o.Services.Map(LivenessService, c => c.Tags.Contains(LivenessHealthCheck.Tag));
            o.Services.Map(ReadinessService, c => c.Tags.Contains(ReadinessHealthCheck.Tag));
            o.Services.Map("", c => c.Tags.Contains(ReadinessHealthCheck.Tag));
            o.Services.Map(ApiService, c => c.Tags.Contains(ReadinessHealthCheck.Tag));
        })
        .AddCheck<LivenessHealthCheck>("write-behind", tags: [LivenessHealthCheck.Tag])
        .Add(new HealthCheckRegistration("store", sp => new ReadinessHealthCheck(
                sp.GetRequiredService<ReadStateEngine>(),
                sp.GetRequiredService<IOptions<HealthOptions>>().Value.EffectiveReadinessMaxFlushAge(sp.GetRequiredService<IOptions<EngineOptions>>().Value)),
            failureStatus: null, tags: [ReadinessHealthCheck.Tag]));
    }

    public const string LivenessService = "liveness";
    public const string ReadinessService = "readiness";
    public const string ApiService = "readstates.v1.ReadStates";
}
