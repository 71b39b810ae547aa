using Grpc.Net.Client;
using ReadStates.Api.Diagnostics;

namespace ReadStates.Tests.Integration;

/// <summary>
/// Service:MinThreads through the real process (the thread pool is per process): raised to 8 by default
/// on a small machine, left at the runtime's own minimum (the core count) with 0, never lowered.
/// </summary>
public sealed class ThreadPoolMinimumTests
{
    private static async Task<int> MinWorkersOf(string[] extraArgs)
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0", "--Service:BenchDiagnostics=true", .. extraArgs]);
        string address = await child.Output.WaitForListeningAddressAsync(TimeSpan.FromSeconds(60));
        using var channel = GrpcChannel.ForAddress(address);
        var counters = await new Diagnostics.DiagnosticsClient(channel).CountersAsync(new EmptyMessage(), deadline: DateTime.UtcNow.AddSeconds(10));
        child.Terminate();
        Assert.Equal(0, await child.ExitCodeAsync());
        return counters.ThreadPoolMinWorkers;
    }

    [Fact]
    public async Task ByDefault_TheMinimumIsRaisedTo8_WithZero_ItIsTheRuntimes()
    {
        Assert.Equal(Math.Max(8, Environment.ProcessorCount), await MinWorkersOf([]));
        Assert.Equal(Environment.ProcessorCount, await MinWorkersOf(["--Service:MinThreads=0"]));
        Assert.Equal(Math.Max(20, Environment.ProcessorCount), await MinWorkersOf(["--Service:MinThreads=20"]));
    }

    [Fact]
    public async Task AMinimumOutOfRange_IsRefusedAtStart_NamingTheSetting()
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0", "--Service:MinThreads=5000"]);
        Assert.Equal(2, await child.ExitCodeAsync());
        Assert.Contains("MinThreads must be between 0", child.Output.Text + child.Output.Errors, StringComparison.Ordinal);
    }
}
