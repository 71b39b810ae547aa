namespace ReadStates.Hosting;

/// <summary>
/// Raises (never lowers) the thread pool's minimum worker and I/O threads. On one or two cores the runtime's
/// minimum is the core count and the pool adds threads only slowly when starved, so a blocked worker stalls
/// the work queued behind it. Used by the service (<see cref="ServiceOptions.MinThreads"/>) and by the bench's
/// generator, which meets the same trap as a .NET gRPC client.
/// </summary>
internal static class ThreadPoolMinimum
{
    /// <summary>Raises both minimums to at least <paramref name="min"/> (0: leaves them); returns them before and after.</summary>
    public static (int WorkerBefore, int IoBefore, int Worker, int Io) Raise(int min)
    {
        ThreadPool.GetMinThreads(out int worker, out int io);
        int w = Math.Max(worker, min), i = Math.Max(io, min);
        if (min <= 0 || (w == worker && i == io) || !ThreadPool.SetMinThreads(w, i)) (w, i) = (worker, io);
        return (worker, io, w, i);
    }
}
