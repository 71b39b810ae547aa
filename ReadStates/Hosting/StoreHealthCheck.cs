using Microsoft.Extensions.Diagnostics.HealthChecks;
using ReadStates.Core;

namespace ReadStates.Hosting;

/// <summary>Not serving while the store refuses writes: changes are only buffered in memory then.</summary>
internal sealed class StoreHealthCheck(ReadStateEngine engine) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var stats = engine.GetStats();
        return Task.FromResult(stats.StoreHealthy
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"The store is failing; {stats.BacklogStates} read states wait in memory."));
    }
}
