using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ReadStates.Tests.Integration;

/// <summary>The built service run as users run it, in a child process, and a way to send it SIGTERM.</summary>
internal static partial class ServiceProcess
{
    /// <summary>The built service, as users run it: <c>dotnet ReadStates.dll</c>, data in <paramref name="dataDir"/>.</summary>
    public static Process Start(string dataDir, string[] args, params (string Name, string Value)[] environment)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ReadStates.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = dataDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["ReadStates__Storage__RocksDb__Path"] = dataDir;
        info.Environment["ReadStates__Engine__CapacityStates"] = "65536";
        info.Environment["ReadStates__Engine__Shards"] = "4";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        info.Environment["ReadStates__Metrics__Enabled"] = "false";
        foreach (var (name, value) in environment) info.Environment[name] = value;
        return Process.Start(info) ?? throw new InvalidOperationException("Could not start the service process.");
    }

    /// <summary>Starts the service and collects its output; disposing kills it if it is still running.</summary>
    public static ServiceChild Launch(string dataDir, string[] args, params (string Name, string Value)[] environment) =>
        new(Start(dataDir, args, environment));

    public const int Sigterm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}

/// <summary>Collects a child's stdout and stderr as they come.</summary>
internal sealed class ProcessOutput
{
    private readonly System.Text.StringBuilder _out = new();
    private readonly System.Text.StringBuilder _err = new();
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _outDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ProcessOutput(Process process)
    {
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { _outDone.TrySetResult(); return; }
            lock (_out) _out.AppendLine(e.Data);
            int at = e.Data.IndexOf("Now listening on: ", StringComparison.Ordinal);
            if (at >= 0)
            {
                // Plain text ends with the address; JSON logs close the message with a quote.
                var rest = e.Data[(at + "Now listening on: ".Length)..];
                int end = rest.IndexOfAny(['"', ' ']);
                _listening.TrySetResult(end < 0 ? rest.Trim() : rest[..end]);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) { _errDone.TrySetResult(); return; }
            lock (_err) _err.AppendLine(e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Text { get { lock (_out) return _out.ToString(); } }
    public string Errors { get { lock (_err) return _err.ToString(); } }

    public async Task<string> WaitForListeningAddressAsync(TimeSpan timeout) =>
        await _listening.Task.WaitAsync(timeout);

    public Task DrainedAsync() => Task.WhenAll(_outDone.Task, _errDone.Task).WaitAsync(TimeSpan.FromSeconds(10));
}

/// <summary>A service child process with its output, killed on dispose if a test left it running.</summary>
internal sealed class ServiceChild(Process process) : IDisposable
{
    public Process Process { get; } = process;
    public ProcessOutput Output { get; } = new(process);

    /// <summary>Sends SIGTERM, as an orchestrator stopping the service would.</summary>
    public void Terminate() => Assert.Equal(0, ServiceProcess.Kill(Process.Id, ServiceProcess.Sigterm));

    /// <summary>Waits (bounded) for the process to exit, drains its output, and returns its exit code.</summary>
    public async Task<int> ExitCodeAsync(int timeoutSeconds = 60)
    {
        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        await Process.WaitForExitAsync(exit.Token);
        await Output.DrainedAsync();
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill();
        Process.Dispose();
    }
}
