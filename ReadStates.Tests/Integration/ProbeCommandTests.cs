using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Core.Storage;
using ReadStates.Storage.RocksDb;

namespace ReadStates.Tests.Integration;

/// <summary>
/// <c>dotnet ReadStates.dll probe</c>, the image's HEALTHCHECK, run as a real process against a real
/// service: 0 for SERVING, 1 for NOT_SERVING / unknown service / nothing listening, 2 for bad arguments,
/// and it never starts a service of its own.
/// </summary>
[Collection("Store faults")]
public sealed class ProbeCommandTests
{
    private static async Task<(int ExitCode, string Output)> ProbeAsync(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ReadStates.dll"));
        info.ArgumentList.Add("probe");
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the probe");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task Probe_AgainstAServiceProcess_ExitsZeroForServing_AndOneForAnUnknownService()
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0"]);
        string address = await child.Output.WaitForListeningAddressAsync(TimeSpan.FromSeconds(60));
        using var probeDir = new TempDir();

        var live = await ProbeAsync(probeDir.Path, "--address", address, "--service", "liveness");
        var ready = await ProbeAsync(probeDir.Path, "--address", address, "--service", "readiness");
        var unknown = await ProbeAsync(probeDir.Path, "--address", address, "--service", "no-such-service");

        Assert.True(live.ExitCode == 0, live.Output);
        Assert.Contains("liveness: Serving", live.Output, StringComparison.Ordinal);
        Assert.True(ready.ExitCode == 0, ready.Output);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("NotFound", unknown.Output, StringComparison.Ordinal);
        // The probe started nothing of its own: no database, no listener.
        Assert.Empty(Directory.EnumerateFileSystemEntries(probeDir.Path));
        Assert.False(child.Process.HasExited);
        child.Terminate();
        Assert.Equal(0, await child.ExitCodeAsync(60));
    }

    [Fact]
    public async Task Probe_ExitsOne_WhileReadinessIsNotServing_AndWhenNothingListens_AndTwoOnBadArguments()
    {
        using var dir = new TempDir();
        FaultyStore? store = null;
        await using var service = await RunningService.StartAsync(dir.Path,
            b => b.Services.AddSingleton<IReadStateStore>(sp => store = new FaultyStore(
                new RocksDbStore(new RocksDbStoreOptions { Path = dir.Path, BlockCacheMb = 8 }, sp.GetRequiredService<ILogger<RocksDbStore>>()))),
            "Engine:FlushInterval=00:00:00.050", "Engine:MaxRetryDelay=00:00:00.100", "Health:ReadinessMaxFlushAge=00:00:00.300");
        store!.FailWrites = true;
        try
        {
            await service.Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 1, MessageId = 1 });
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            (int ExitCode, string Output) ready;
            while ((ready = await ProbeAsync(dir.Path, "--address", service.Address, "--service", "readiness")).ExitCode != 1)
                Assert.True(DateTime.UtcNow < deadline, "readiness never failed: " + ready.Output);
            Assert.Contains("readiness: NotServing", ready.Output, StringComparison.Ordinal);
            Assert.Equal(0, (await ProbeAsync(dir.Path, "--address", service.Address, "--service", "liveness")).ExitCode);
        }
        finally
        {
            store.FailWrites = false;
        }

        var nothing = await ProbeAsync(dir.Path, "--address", "127.0.0.1:9", "--timeout", "2");
        Assert.Equal(1, nothing.ExitCode);
        Assert.Equal(2, (await ProbeAsync(dir.Path, "--bogus")).ExitCode);
        Assert.Equal(2, (await ProbeAsync(dir.Path, "--address", "ftp://x")).ExitCode);
    }
}
