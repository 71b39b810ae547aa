using System.Diagnostics;
using System.Globalization;

namespace ReadStates.Bench.Load;

/// <summary>
/// The .NET gRPC client completes every call on the thread pool. With one or two visible cores the
/// pool starts with that many workers and adds more only slowly (hill climbing, about one per 500 ms
/// when starved), so an open-loop generator's replies queue behind each other and p99 reads the
/// generator's starvation, not the server: 0.45–1.4 s in issue 7's runs against 4.5 ms with 8 workers.
/// The generator therefore raises the pool's minimum before it connects and reports what it set.
/// </summary>
internal static class ClientThreadPool
{
    /// <summary>8 workers at least (what fixed the runs), 2 per visible core above that.</summary>
    public static int AutoMinThreads => Math.Max(8, 2 * Environment.ProcessorCount);

    public sealed record Setting(int Processors, string Affinity, int WorkerBefore, int IoBefore, int Worker, int Io)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"generator: {Processors} visible processor(s) (cpus {Affinity}), thread pool min workers {Worker} (was {WorkerBefore}), min IO {Io} (was {IoBefore})");
    }

    /// <summary>Raises (never lowers) the minimum worker and IO threads to <paramref name="min"/>; 0 leaves the runtime's default.</summary>
    public static Setting Configure(int min)
    {
        var (worker, io, w, i) = ReadStates.Hosting.ThreadPoolMinimum.Raise(min);
        return new Setting(Environment.ProcessorCount, CpusAllowed(Environment.ProcessId), worker, io, w, i);
    }

    /// <summary>The cpus a process may run on (<c>Cpus_allowed_list</c>), so a report shows whether the run was pinned.</summary>
    public static string CpusAllowed(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)) return line["Cpus_allowed_list:".Length..].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return "?";
    }

    /// <summary>A short description of the server process for the report: its cpus, or that no pid was given.</summary>
    public static string DescribeServer(int pid) => pid <= 0 ? "no pid given" : $"pid {pid}, cpus {CpusAllowed(pid)}";

    public static bool IsAlive(int pid)
    {
        try { using var p = Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }
}
