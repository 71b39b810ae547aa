using System.Diagnostics;
using ReadStates.Tests.Cql.Server;
using ReadStates.Tests.Support;

namespace ReadStates.Tests.Cql;

/// <summary>Tests that must not share the machine with others: process-wide measurements and CPU-hungry interpreters.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CqlSerialCollection
{
    public const string Name = "CQL serial";
}

/// <summary>
/// Real drivers against the loopback test server: proves its framing (and so the production codec it
/// reuses) is what the DataStax drivers speak. Without the drivers they report skipped with the reason
/// (`apt-get install python3-cassandra`, `npm ci` in scripts/cql/node); `.ci/run` installs both and sets
/// READSTATES_REQUIRE_DRIVERS=1, so in CI a missing driver fails instead. They run alone (their
/// interpreters load both cores) so the timeout-based tests elsewhere are not starved.
/// </summary>
[Collection(CqlSerialCollection.Name)]
public class DriverCheckTests
{
    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish in 90 s: {await stdout} {await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    [SkippableFact]
    public async Task PythonDriver_AuthenticatesPreparesWritesAndPages_AgainstTheTestServer()
    {
        Prerequisite.Require(Prerequisite.PythonHasModule("/usr/bin/python3", "cassandra"),
            "the DataStax Python driver is not installed (apt-get install python3-cassandra)");
        await using var server = new CqlTestServer(new CqlTestServerOptions { Username = "readstates", Password = "pw" });
        string script = CqlVectors.FindRepoFile("scripts/cql/driver_check.py");
        var (code, output) = await RunAsync("/usr/bin/python3", Path.GetDirectoryName(script)!, script, "127.0.0.1", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "readstates", "pw");
        Assert.True(code == 0, output);
        Assert.Contains("driver_check python OK rows=25 pages=3", output, StringComparison.Ordinal);
        Assert.Equal(26, server.Tables.CountRows("readstates", "read_states") + 1);
    }

    [SkippableFact]
    public async Task NodeDriver_PreparesWritesAndPages_AgainstTheTestServer()
    {
        string dir = CqlVectors.FindRepoFile("scripts/cql/node");
        Prerequisite.Require(Prerequisite.OnPath("node") && Directory.Exists(Path.Combine(dir, "node_modules", "cassandra-driver")),
            "node or the npm cassandra-driver is not installed (cd scripts/cql/node && npm ci)");
        await using var server = new CqlTestServer(new CqlTestServerOptions { ShardCount = 4 });
        var (code, output) = await RunAsync("node", dir, "driver_check.js", "127.0.0.1", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, output);
        Assert.Contains("driver_check node OK rows=25 pages=3", output, StringComparison.Ordinal);
        Assert.Equal(25, server.Tables.CountRows("readstates", "read_states"));
    }
}
