using System.Globalization;
using ReadStates.Api.V1;
using ReadStates.Tests.Cql.Server;

namespace ReadStates.Tests.Integration;

/// <summary>The real service on the ScyllaDB store (<c>Storage:Kind=scylla</c>), against the loopback CQL server.</summary>
public sealed class ScyllaServiceTests
{
    private static string[] ScyllaSettings(CqlTestServer server) =>
    [
        "Storage:Kind=scylla",
        $"Scylla:ContactPoints:0={server.Address}",
        $"Scylla:Port={server.Port.ToString(CultureInfo.InvariantCulture)}",
        "Scylla:ReplicationFactor=1",
        "Scylla:ConnectTimeout=00:00:02",
        // Only the shutdown flush can write: the restart proves it wrote everything.
        "Engine:FlushInterval=00:05:00",
    ];

    [Fact]
    public async Task ScyllaStore_ServesEveryChange_AndKeepsItAcrossAGracefulRestart()
    {
        await using var server = new CqlTestServer();
        using var dir = new TempDir();
        var users = new ulong[] { 1, 2, ulong.MaxValue };
        GetResponse[] before;
        await using (var first = await RunningService.StartAsync(dir.Path, ScyllaSettings(server)))
        {
            var client = first.Client;
            foreach (ulong user in users)
            {
                await client.AckAsync(new AckRequest { UserId = user, ChannelId = 10, MessageId = 100, Attributes = new StateAttributes { ParentId = 7 } });
                await client.AckAsync(new AckRequest { UserId = user, ChannelId = ulong.MaxValue, MessageId = 5 });
                await client.AckPinsAsync(new AckPinsRequest { UserId = user, ChannelId = 10, LastPinTimestamp = 1_700_000_000_000 });
            }
            await client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 10, MessageId = 200, UserIds = { users } });
            await client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 10, MessageId = 201, UserIds = { users } });
            await client.RemoveMentionsAsync(new RemoveMentionsRequest { ChannelId = 10, MessageId = 200, UserIds = { 2 } });
            await client.DeleteAsync(new DeleteRequest { UserId = 1, ChannelIds = { ulong.MaxValue } });
            before = await Task.WhenAll(users.Select(u => client.GetAsync(new GetRequest { UserId = u }).ResponseAsync));
            Assert.Equal(2UL, before[0].TotalMentions);
            Assert.Equal(1UL, before[1].TotalMentions);
            Assert.Single(before[0].States);
            await first.StopAsync();
        }
        Assert.NotEmpty(server.Batches);

        await using var second = await RunningService.StartAsync(dir.Path, ScyllaSettings(server));
        var after = await Task.WhenAll(users.Select(u => second.Client.GetAsync(new GetRequest { UserId = u }).ResponseAsync));

        Assert.Equal(before, after);
    }

    [Fact]
    public async Task UnreachableScylla_StopsTheProcessAtStart_WithExitOne()
    {
        using var dir = new TempDir();
        int closedPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var child = ServiceProcess.Launch(dir.Path, ["--urls=http://127.0.0.1:0"],
            ("ReadStates__Storage__Kind", "scylla"), ("ReadStates__Scylla__ContactPoints__0", "127.0.0.1"),
            ("ReadStates__Scylla__Port", closedPort.ToString(CultureInfo.InvariantCulture)), ("ReadStates__Scylla__ConnectTimeout", "00:00:02"));
        var output = child.Output;
        Assert.Equal(1, await child.ExitCodeAsync(90));
        Assert.Contains("failed to start", output.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", output.Text, StringComparison.Ordinal);
    }
}
