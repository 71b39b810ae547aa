using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ReadStates.Core;
using ReadStates.Hosting;
using ReadStates.Storage.Scylla;

namespace ReadStates.Tests.Hosting;

public class DurationTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("5s", 5_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("1m", 60_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("1d", 86_400_000)]
    [InlineData(" 10 ms ", 10)]
    [InlineData("5S", 5_000)]
    [InlineData("00:00:05", 5_000)]
    [InlineData("00:00:00.250", 250)]
    [InlineData("01:30:00", 5_400_000)]
    [InlineData("1.00:00:00", 86_400_000)]
    public void UnitAndClockForms_Parse(string text, long milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var value, out string error), error);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("5", "has no unit; write 5s for seconds, 5ms, 5m or 5h (or hh:mm:ss)")]
    [InlineData("0", "has no unit")]
    [InlineData("2.5", "has no unit")]
    [InlineData("", "is empty")]
    [InlineData("5 sec", "unknown unit 'sec'")]
    [InlineData("5y", "unknown unit 'y'")]
    [InlineData("-5s", "is negative")]
    [InlineData("-00:00:01", "is negative")]
    [InlineData("soon", "is not a duration")]
    [InlineData("1.2.3s", "is not a duration")]
    [InlineData("25:99:00", "is not a clock duration")]
    [InlineData("99999999999d", "far too long")]
    public void BareNumbersAndNonsense_AreRefused_SayingWhatToWrite(string text, string message)
    {
        Assert.False(Duration.TryParse(text, out _, out string error));
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(250, "250ms")]
    [InlineData(5_000, "5s")]
    [InlineData(90_000, "90s")]
    [InlineData(7_200_000, "2h")]
    public void Format_IsTheShortestExactUnit_AndParsesBack(long milliseconds, string expected)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds);
        Assert.Equal(expected, Duration.Format(value));
        Assert.Equal(value, Duration.Parse(Duration.Format(value)));
    }

    [Fact]
    public void TheHost_BindsUnitDurations_IntoCoreAndStoreOptions()
    {
        var app = ReadStatesHost.Build(["--Engine:FlushInterval=250ms", "--Engine:MaxRetryDelay=2m", "--Engine:ShutdownFlushTimeout=00:00:45",
            "--Scylla:RequestTimeout=1500ms", "--Scylla:ConnectTimeout=3s"]);

        Assert.Empty(ReadStatesHost.CheckConfiguration(app.Services));
        var engine = app.Services.GetRequiredService<IOptions<EngineOptions>>().Value;
        Assert.Equal(TimeSpan.FromMilliseconds(250), engine.FlushInterval);
        Assert.Equal(TimeSpan.FromMinutes(2), engine.MaxRetryDelay);
        Assert.Equal(TimeSpan.FromSeconds(45), engine.ShutdownFlushTimeout);
        var scylla = app.Services.GetRequiredService<IOptions<ScyllaOptions>>().Value;
        Assert.Equal(TimeSpan.FromMilliseconds(1500), scylla.RequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), scylla.ConnectTimeout);
    }

    [Theory]
    [InlineData("Engine:MaxRetryDelay", "5", "has no unit")]
    [InlineData("Engine:FlushInterval", "1", "has no unit")]
    [InlineData("Engine:FlushInterval", "6m", "at most|between")]
    [InlineData("Engine:MaxRetryDelay", "11m", "at most 10 minutes")]
    [InlineData("Engine:ShutdownFlushTimeout", "2h", "between 0 and 1 hour")]
    [InlineData("Scylla:RequestTimeout", "6m", "at most 5 minutes")]
    [InlineData("Scylla:ConnectTimeout", "10", "has no unit")]
    public void BareNumbers_AndDurationsPastTheirBound_AreReported_NamingTheSetting(string key, string value, string message)
    {
        var app = ReadStatesHost.Build([$"--{key}={value}", "--Storage:Kind=scylla"]);

        var problems = ReadStatesHost.CheckConfiguration(app.Services);

        var problem = Assert.Single(problems, p => p.Contains(key, StringComparison.Ordinal));
        Assert.Matches(message, problem);
    }
}
