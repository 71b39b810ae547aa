using System.Diagnostics;
using System.Text;
using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Serving;

/// <summary>
/// The real service in a child process (<c>dotnet ReadStates.dll</c> from the bench's own output), on a
/// loopback port the OS picks, with a throw-away data directory and the bench diagnostics on. Disposing
/// stops it (SIGTERM via <see cref="Process.Kill()"/> after a grace period) and deletes the directory.
/// </summary>
internal sealed class ServiceChild : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly string _dataDir;

    private ServiceChild(Process process, string dataDir, string address)
    {
        _process = process;
        _dataDir = dataDir;
        Address = address;
    }

    public string Address { get; }
    public int Pid => _process.Id;

    /// <param name="cpus">taskset cpu list for the child ("1"), or null to leave it unpinned.</param>
    /// <param name="settings">Extra service settings, <c>Section:Key=value</c>.</param>
    /// <param name="environment">Extra environment variables (runtime knobs such as DOTNET_gcServer).</param>
    public static async Task<ServiceChild> StartAsync(string? cpus, IEnumerable<string> settings, IEnumerable<(string Name, string Value)> environment, TimeSpan timeout)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ReadStates.dll");
        if (!File.Exists(dll)) throw new Cli.UsageException($"The service is not beside the bench ({dll}); build ReadStates.Bench.");
        string dataDir = Path.Combine(Path.GetTempPath(), "readstates-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        var info = new ProcessStartInfo(cpus is null ? "dotnet" : "taskset")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dataDir,
        };
        if (cpus is not null) { info.ArgumentList.Add("-c"); info.ArgumentList.Add(cpus); info.ArgumentList.Add("dotnet"); }
        info.ArgumentList.Add(dll);
        foreach (var a in (string[])[
            "--Urls=http://127.0.0.1:0", $"--Storage:RocksDb:Path={dataDir}", "--Metrics:Enabled=false", "--Service:BenchDiagnostics=true",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information"])
            info.ArgumentList.Add(a);
        foreach (var s in settings) info.ArgumentList.Add("--" + s);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the service.");
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new StringBuilder();
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (log) log.AppendLine(line);
            int at = line.IndexOf("Now listening on: ", StringComparison.Ordinal);
            if (at >= 0) listening.TrySetResult(line[(at + "Now listening on: ".Length)..].Trim());
        }
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(timeout));
        if (first != listening.Task)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            string text;
            lock (log) text = log.ToString();
            TryDelete(dataDir);
            string what = first == exited ? $"exited with code {process.ExitCode}" : $"did not start within {timeout.TotalSeconds:0} s";
            // Usually the caller's own --server-settings/--server-env (the service names the bad one): said once, no stack trace.
            throw new UsageException($"The service {what}:{Environment.NewLine}{text.TrimEnd()}");
        }
        var child = new ServiceChild(process, dataDir, await listening.Task);
        lock (log) child._log.Append(log);
        return child;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM, as an orchestrator would: the service flushes and exits.
            using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false }))
                if (kill is not null) await kill.WaitForExitAsync();
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await _process.WaitForExitAsync(grace.Token); }
            catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
        }
        _process.Dispose();
        TryDelete(_dataDir);
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
