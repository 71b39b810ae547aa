using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Hosting;

/// <summary>
/// Runs write-behind for the life of the process. Registered before the web server, so it starts
/// before Kestrel accepts calls and stops after Kestrel has drained them: then it disposes the engine
/// (the final flush) and only after that closes the store.
/// </summary>
internal sealed class EngineHostedService(ReadStateEngine engine, IReadStateStore store, EngineMetrics metrics, ILogger<EngineHostedService> logger) : IHostedService
{
    private int _stopped;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        GC.KeepAlive(metrics); // created with the engine, so its instruments exist from the start
        // Replays the change log into the store first: Kestrel starts only after this returns.
        await engine.StartAsync(cancellationToken).ConfigureAwait(false);
        HostLog.EngineStarted(logger, store.Name);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        HostLog.Stopping(logger, store.Name);
        // The engine bounds its own final flush by Engine:ShutdownFlushTimeout; the host's token is not
        // passed on, because giving up early would lose acknowledged changes.
        await engine.DisposeAsync().ConfigureAwait(false);
        await store.DisposeAsync().ConfigureAwait(false);
        HostLog.Stopped(logger, store.Name);
    }
}
