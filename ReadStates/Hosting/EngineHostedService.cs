using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Hosting;

/// <summary>
/// Runs write-behind for the life of the process. Registered before the web server, so it starts
/// before Kestrel accepts calls and stops after Kestrel has drained them: then it disposes the engine
/// (the final flush) and only after that closes the store.
/// <para>
/// The flush does not wait for the drain: as soon as the stop begins (SIGTERM), a flush of everything
/// dirty starts alongside it, so a slow drain (bounded by <c>Service:DrainTimeout</c>) leaves the final
/// flush only the changes made while draining.
/// </para>
/// </summary>
internal sealed class EngineHostedService(
    ReadStateEngine engine,
    IReadStateStore store,
    EngineMetrics metrics,
    IHostApplicationLifetime lifetime,
    IOptions<ServiceOptions> serviceOptions,
    ILogger<EngineHostedService> logger) : IHostedService
{
    private readonly CancellationTokenSource _earlyFlushStop = new();
    private CancellationTokenRegistration _stopping;
    private Task _earlyFlush = Task.CompletedTask;
    private int _stopped;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        GC.KeepAlive(metrics); // created with the engine, so its instruments exist from the start
        // Replays the change log into the store first: Kestrel starts only after this returns.
        await engine.StartAsync(cancellationToken).ConfigureAwait(false);
        _stopping = lifetime.ApplicationStopping.Register(BeginFlushWhileDraining);
        HostLog.EngineStarted(logger, store.Name);
    }

    private void BeginFlushWhileDraining()
    {
        if (Volatile.Read(ref _stopped) != 0) return;
        HostLog.FlushingWhileDraining(logger, store.Name, serviceOptions.Value.DrainTimeout);
        _earlyFlush = Task.Run(() => engine.FlushAsync(_earlyFlushStop.Token));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        await _stopping.DisposeAsync().ConfigureAwait(false);
        HostLog.Stopping(logger, store.Name);
        // A flush still retrying a failing store gives way to the final one, which has its own bound;
        // whatever it had not written is still dirty (cancelling requeues it), so nothing is lost.
        await _earlyFlushStop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _earlyFlush.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            HostLog.EarlyFlushFailed(logger, ex);
        }
        // The engine bounds its own final flush by Engine:ShutdownFlushTimeout; the host's token (which
        // fires after Service:DrainTimeout) is not passed on, because giving up early would lose
        // acknowledged changes.
        await engine.DisposeAsync().ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
        _earlyFlushStop.Dispose();
        HostLog.Stopped(logger, store.Name);
    }
}
