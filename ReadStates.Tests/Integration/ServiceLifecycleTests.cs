using Grpc.Net.Client;
using ReadStates.Api.V1;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>Stopping and starting the service: nothing acknowledged is lost, and bad settings stop it at once.</summary>
public sealed class ServiceLifecycleTests
{
    // A flush interval far beyond the test: only the shutdown flush can have written anything.
    private const string NoPeriodicFlush = "Engine:FlushInterval=00:05:00";

    private static async Task<GetResponse[]> MakeChangesAsync(ReadStatesClient client)
    {
        var attributes = new StateAttributes { ParentId = 42, Flags = (uint)ReadStateFlag.GuildChannel, LastViewed = 7, Type = ReadStateType.GuildHome };
        for (ulong user = 1; user <= 20; user++)
        {
            for (ulong channel = 1; channel <= 5; channel++)
                await client.AckAsync(new AckRequest { UserId = user, ChannelId = channel, MessageId = 100 * channel, Attributes = attributes });
            await client.AckPinsAsync(new AckPinsRequest { UserId = user, ChannelId = 1, LastPinTimestamp = 1_700_000_000_000 + (long)user });
            await client.DeleteAsync(new DeleteRequest { UserId = user, ChannelIds = { 5 } });
        }
        var everyone = Enumerable.Range(1, 20).Select(u => (ulong)u).ToArray();
        await client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 2, MessageId = 1000, UserIds = { everyone } });
        await client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 2, MessageId = 1001, UserIds = { everyone } });
        await client.RemoveMentionsAsync(new RemoveMentionsRequest { ChannelId = 2, MessageId = 1000, UserIds = { everyone[..10] } });
        await client.AckParentAsync(new AckParentRequest { UserId = 3, ParentId = 42, MessageId = 350 });
        await client.DeleteAsync(new DeleteRequest { UserId = 20, All = true });
        return await ReadAllAsync(client);
    }

    private static async Task<GetResponse[]> ReadAllAsync(ReadStatesClient client)
    {
        var all = new GetResponse[20];
        for (int i = 0; i < all.Length; i++) all[i] = await client.GetAsync(new GetRequest { UserId = (ulong)i + 1 });
        return all;
    }

    [Fact]
    public async Task GracefulStop_ThenRestartOnTheSameDirectory_KeepsEveryAcknowledgedChange()
    {
        using var dir = new TempDir();
        GetResponse[] before;
        await using (var first = await RunningService.StartAsync(dir.Path, NoPeriodicFlush))
        {
            before = await MakeChangesAsync(first.Client);
            Assert.Equal(1UL, before[0].TotalMentions); // mention 1000 removed for users 1..10
            Assert.Equal(2UL, before[10].TotalMentions);
            Assert.Empty(before[19].States);
            await first.StopAsync();
        }

        await using var second = await RunningService.StartAsync(dir.Path, NoPeriodicFlush);
        var after = await ReadAllAsync(second.Client);

        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Sigterm_FlushesEverything_BeforeTheProcessExitsWithZero()
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0", "--" + NoPeriodicFlush]);
        var output = child.Output;
        string address = await output.WaitForListeningAddressAsync(TimeSpan.FromSeconds(60));
        GetResponse[] before;
        using (var channel = GrpcChannel.ForAddress(address))
            before = await MakeChangesAsync(new ReadStatesClient(channel));

        child.Terminate();
        int code = await child.ExitCodeAsync();
        Assert.True(code == 0, $"exit code {code}; output:\n{output.Text}");

        await using var restarted = await RunningService.StartAsync(dir.Path, NoPeriodicFlush);
        Assert.Equal(before, await ReadAllAsync(restarted.Client));
    }

    [Theory]
    [InlineData("ReadStates__Engine__Shards", "3", "Engine:Shards")]
    [InlineData("ReadStates__Storage__Kind", "cassandra", "Storage:Kind")]
    [InlineData("ReadStates__Service__MaxBulkAckEntries", "0", "Service:MaxBulkAckEntries")]
    [InlineData("ReadStates__Engine__CapacityStates", "lots", "Engine:CapacityStates")]
    [InlineData("ReadStates__Engine__FlushIntervall", "00:00:01", "FlushIntervall")]
    [InlineData("ReadStates__Engine__MaxRetryDelay", "5", "'5' has no unit; write 5s for seconds")]
    [InlineData("ReadStates__Engine__FlushInterval", "10m", "Engine:FlushInterval must be between")]
    [InlineData("ReadStates__Engin__FlushInterval", "1s", "Unknown configuration section 'Engin' (from environment variables ReadStates__*)")]
    [InlineData("Engin__FlushInterval", "1s", "Unknown configuration section 'Engin' (from environment variables)")]
    [InlineData("ASPNETCORE_URLS", "http://0.0.0.0:0", "Listening on http://0.0.0.0:0 (not loopback) needs authentication")]
    [InlineData("ReadStates__Urls", "http://[::]:0", "Listening on http://[::]:0 (not loopback) needs authentication")]
    [InlineData("ReadStates__Auth__ApiKeys__0__Sha256", "abc", "Auth:ApiKeys:0:Sha256 must be the 64 hex digits")]
    public async Task BadSetting_StopsTheProcess_WithNonZeroExit_AndAClearMessage(string variable, string value, string named)
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path, [], (variable, value));
        var output = child.Output;
        Assert.Equal(2, await child.ExitCodeAsync(60));
        Assert.Contains("invalid configuration", output.Errors, StringComparison.Ordinal);
        Assert.Contains(named, output.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonLogs_AreOneObjectPerLine_WithStableEventIds_AndIsoTimestamps()
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0"], ("Logging__Console__FormatterName", "json"));
        var output = child.Output;
        await output.WaitForListeningAddressAsync(TimeSpan.FromSeconds(60));
        child.Terminate();
        Assert.Equal(0, await child.ExitCodeAsync(60));
        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement)
            .ToList();
        var events = lines.Select(e => (Id: e.GetProperty("EventId").GetInt32(), Category: e.GetProperty("Category").GetString())).ToList();
        foreach (var line in lines)
        {
            // ISO-8601 UTC with milliseconds, nothing after the Z.
            string timestamp = line.GetProperty("Timestamp").GetString()!;
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", timestamp);
            Assert.True(DateTimeOffset.TryParse(timestamp, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var at));
            Assert.InRange(at, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
        }
        Assert.Contains((3001, "ReadStates.Storage.RocksDb.RocksDbStore"), events); // store opened
        Assert.Contains((5001, "ReadStates.Hosting.EngineHostedService"), events); // engine started
        Assert.Contains((5003, "ReadStates.Hosting.EngineHostedService"), events); // stopped after the final flush
    }

    [Fact]
    public async Task DataDirectoryInUse_StopsASecondProcess_WithExitOne_AndTheFirstKeepsServing()
    {
        using var dir = new TempDir();
        await using var first = await RunningService.StartAsync(dir.Path);
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0"]);
        var output = child.Output;
        Assert.Equal(1, await child.ExitCodeAsync(60));
        Assert.Contains("failed to start", output.Errors, StringComparison.Ordinal);
        Assert.Contains("lock", output.Errors, StringComparison.OrdinalIgnoreCase);
        Assert.True((await first.Client.AckAsync(new AckRequest { UserId = 1, ChannelId = 1, MessageId = 1 })).Applied);
    }

    [Fact]
    public async Task MetricsPortTaken_StopsTheProcess_WithExitOne_NamingTheSetting()
    {
        using var dir = new TempDir();
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0"],
            ("ReadStates__Metrics__Enabled", "true"), ("ReadStates__Metrics__Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var output = child.Output;
        Assert.Equal(1, await child.ExitCodeAsync(60));
        Assert.Contains($"Metrics endpoint http://127.0.0.1:{port}/metrics", output.Errors, StringComparison.Ordinal);
        Assert.Contains("Metrics:Port", output.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeveralBadSettings_AreAllReported_AtOnce()
    {
        using var dir = new TempDir();
        using var child = ServiceProcess.Launch(dir.Path, [],
            ("ReadStates__Engine__Shards", "3"), ("ReadStates__Storage__Kind", "cassandra"), ("ReadStates__Metrics__Enabled", "true"), ("ReadStates__Metrics__Port", "70000"),
            ("ReadStates__Engine__ShutdownFlushTimeout", "soon"));
        var output = child.Output;
        Assert.Equal(2, await child.ExitCodeAsync(60));
        Assert.Contains("Engine:ShutdownFlushTimeout", output.Errors, StringComparison.Ordinal);
        Assert.Contains("Storage:Kind must be", output.Errors, StringComparison.Ordinal);
        Assert.Contains("Metrics:Port", output.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output.Errors, StringComparison.Ordinal);
    }
}
