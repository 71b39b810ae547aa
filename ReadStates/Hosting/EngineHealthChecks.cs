using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ReadStates.Core;

namespace ReadStates.Hosting;

/// <summary>
/// Liveness: the process works and its write-behind loop runs. Deliberately blind to the store: a pod
/// whose store is down still holds unwritten changes, and restarting it would lose them (deferred
/// durability) or only repeat the outage. Tag <see cref="Tag"/>.
/// </summary>
internal sealed class LivenessHealthCheck(ReadStateEngine engine) : IHealthCheck
{
    public const string Tag = "live";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(engine.IsRunning
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("The write-behind loop is not running."));
}

/// <summary>
/// Readiness: the store keeps up. NOT_SERVING once changes may have waited longer than
/// <c>Health:ReadinessMaxFlushAge</c> for it (writes failing or stalled), so traffic moves away while
/// the pod stays up holding its changes; SERVING again once a flush pass writes everything. Tag <see cref="Tag"/>.
/// </summary>
internal sealed class ReadinessHealthCheck(ReadStateEngine engine, TimeSpan maxFlushAge) : IHealthCheck
{
    public const string Tag = "ready";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!engine.IsRunning)
            return Task.FromResult(HealthCheckResult.Unhealthy("Write-behind is not running."));
        var age = engine.UnwrittenAge;
        if (age <= maxFlushAge) return Task.FromResult(HealthCheckResult.Healthy());
        // Only the unhealthy answer pays for the full stats (every shard's lock once).
        var stats = engine.GetStats();
        return Task.FromResult(HealthCheckResult.Unhealthy(string.Create(CultureInfo.InvariantCulture,
            $"The store is not keeping up: changes may have waited {age.TotalSeconds:F1} s (limit {maxFlushAge.TotalSeconds:F1} s); " +
            $"{stats.StoreWriteFailures} failed writes so far, {stats.BacklogStates} evicted states waiting.")));
    }
}
