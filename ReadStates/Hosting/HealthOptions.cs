using System.Globalization;
using ReadStates.Core;

namespace ReadStates.Hosting;

/// <summary>When readiness gives up on the store. Bound from the <c>Health</c> configuration section.</summary>
public sealed class HealthOptions
{
    public static readonly TimeSpan MinAutoReadinessAge = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan MaxReadinessAge = TimeSpan.FromHours(1);

    /// <summary>
    /// Readiness turns NOT_SERVING once changes may have waited longer than this for the store (the last
    /// flush pass that wrote everything started longer ago: writes failing or stalled). 0 = automatic:
    /// 5 × <c>Engine:FlushInterval</c>, at least 5 s.
    /// </summary>
    public TimeSpan ReadinessMaxFlushAge { get; set; } = TimeSpan.Zero;

    public TimeSpan EffectiveReadinessMaxFlushAge(EngineOptions engine)
    {
        if (ReadinessMaxFlushAge > TimeSpan.Zero) return ReadinessMaxFlushAge;
        var auto = engine.FlushInterval * 5;
        return auto < MinAutoReadinessAge ? MinAutoReadinessAge : auto;
    }

    /// <summary>Returns every problem with these settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (ReadinessMaxFlushAge < TimeSpan.Zero || ReadinessMaxFlushAge > MaxReadinessAge)
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"Health:ReadinessMaxFlushAge must be 00:00:00 (automatic) or up to {MaxReadinessAge}; got {ReadinessMaxFlushAge}."));
        return errors;
    }
}
