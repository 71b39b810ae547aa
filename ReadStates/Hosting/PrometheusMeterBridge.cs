using System.Diagnostics.Metrics;
using Prometheus;

namespace ReadStates.Hosting;

/// <summary>
/// Publishes the instruments of this app's meters named <paramref name="meterName"/> to Prometheus under
/// their own names (<c>readstates.cache.loads</c> → <c>readstates_cache_loads_total</c>), observable ones
/// read on each scrape. prometheus-net's generic adapter would prefix the meter name a second time and
/// export counters as gauges; every other meter still goes through that adapter.
/// </summary>
internal sealed class PrometheusMeterBridge : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly MetricFactory _factory;
    private readonly string _meterName;
    private readonly object _scope;

    /// <param name="scope">The app's <see cref="IMeterFactory"/>: meters of other apps in the process are left out.</param>
    public PrometheusMeterBridge(CollectorRegistry registry, string meterName, IMeterFactory scope)
    {
        _factory = Metrics.WithCustomRegistry(registry);
        _meterName = meterName;
        _scope = scope;
        _listener.InstrumentPublished = OnPublished;
        _listener.SetMeasurementEventCallback<long>((_, value, _, state) => ((Action<double>)state!)(value));
        _listener.SetMeasurementEventCallback<int>((_, value, _, state) => ((Action<double>)state!)(value));
        _listener.SetMeasurementEventCallback<double>((_, value, _, state) => ((Action<double>)state!)(value));
        _listener.SetMeasurementEventCallback<float>((_, value, _, state) => ((Action<double>)state!)(value));
        _listener.Start();
        registry.AddBeforeCollectCallback(_listener.RecordObservableInstruments);
    }

    /// <summary>Whether prometheus-net's own adapter should leave <paramref name="instrument"/> to a bridge.</summary>
    public static bool IsBridged(Instrument instrument, string meterName) => instrument.Meter.Name == meterName;

    private void OnPublished(Instrument instrument, MeterListener listener)
    {
        if (instrument.Meter.Name != _meterName || !ReferenceEquals(instrument.Meter.Scope, _scope)) return;
        string name = instrument.Name.Replace('.', '_').Replace('-', '_');
        string help = string.IsNullOrEmpty(instrument.Description) ? name : instrument.Description;
        var kind = instrument.GetType().GetGenericTypeDefinition();
        Action<double> sink;
        if (kind == typeof(ObservableCounter<>))
        {
            var counter = _factory.CreateCounter(name + "_total", help);
            sink = counter.IncTo;
        }
        else if (kind == typeof(Counter<>))
        {
            var counter = _factory.CreateCounter(name + "_total", help);
            sink = counter.Inc;
        }
        else if (kind == typeof(Histogram<>))
        {
            var histogram = _factory.CreateHistogram(name, help);
            sink = histogram.Observe;
        }
        else if (kind == typeof(UpDownCounter<>))
        {
            var gauge = _factory.CreateGauge(name, help);
            sink = gauge.Inc;
        }
        else
        {
            // ObservableGauge, ObservableUpDownCounter, Gauge: the value is the level.
            var gauge = _factory.CreateGauge(name, help);
            sink = gauge.Set;
        }
        listener.EnableMeasurementEvents(instrument, sink);
    }

    public void Dispose() => _listener.Dispose();
}
