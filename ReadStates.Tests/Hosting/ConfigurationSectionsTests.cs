using ReadStates.Hosting;

namespace ReadStates.Tests.Hosting;

public class ConfigurationSectionsTests
{
    [Theory]
    [InlineData("--Engin:FlushInterval=1s", "Engin")]
    [InlineData("--Metric:Enabled=false", "Metric")]
    [InlineData("--Serivce=1", "Serivce")]
    public void ASectionNobodyReads_IsReported_WithWhereItCameFrom(string arg, string section)
    {
        var app = ReadStatesHost.Build([arg]);

        var problem = Assert.Single(ReadStatesHost.CheckConfiguration(app.Services));

        Assert.Contains($"Unknown configuration section '{section}' (from the command line)", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void TheFrameworksSections_AndOurs_AreAccepted()
    {
        var app = ReadStatesHost.Build([
            "--Logging:LogLevel:Default=Warning", "--Kestrel:Limits:Http2:MaxStreamsPerConnection=50",
            "--Kestrel:Limits:KeepAliveTimeout=00:02:00", "--AllowedHosts=*", "--urls=http://127.0.0.1:0",
            "--Engine:Shards=4", "--Service:MaxChannelIds=10", "--Storage:Kind=rocksdb", "--Metrics:Enabled=false", "--Scylla:Port=9042",
        ]);

        Assert.Empty(ReadStatesHost.CheckConfiguration(app.Services));
    }

    [Fact]
    public void PlainEnvironmentVariables_AreNotSettings_AndNotReported()
    {
        // PATH, HOME, … are in the configuration (unprefixed environment) but name no section.
        Assert.NotNull(Environment.GetEnvironmentVariable("PATH"));
        var app = ReadStatesHost.Build([]);

        Assert.Empty(ReadStatesHost.CheckConfiguration(app.Services));
    }
}
