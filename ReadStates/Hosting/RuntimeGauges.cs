using System.Diagnostics.Metrics;

namespace ReadStates.Hosting;

/// <summary>
/// Two of .NET's built-in runtime metrics are levels that the runtime publishes as counters
/// (<c>dotnet.thread_pool.thread.count</c> and <c>dotnet.thread_pool.queue.length</c> are
/// ObservableCounters in System.Runtime, though OpenTelemetry's conventions make them up-down counters),
/// so Prometheus would get them as <c>_total</c> counters that go down. The System.Runtime pair is
/// dropped by a view (<see cref="TelemetrySetup"/>) and published here under the same names with the
/// right kind, exported as gauges.
/// </summary>
internal sealed class RuntimeGauges : IDisposable
{
    public const string MeterName = "ReadStates.Runtime";
    public const string ThreadCount = "dotnet.thread_pool.thread.count";
    public const string QueueLength = "dotnet.thread_pool.queue.length";

    private readonly Meter _meter;

    public RuntimeGauges(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableUpDownCounter(ThreadCount, () => (long)ThreadPool.ThreadCount, "{thread}", "The number of thread pool threads that currently exist.");
        _meter.CreateObservableUpDownCounter(QueueLength, () => ThreadPool.PendingWorkItemCount, "{work_item}", "The number of work items currently queued to be processed by the thread pool.");
    }

    public void Dispose() => _meter.Dispose();
}
