using System.Text.Json;
using Microsoft.Extensions.Configuration;
using ReadStates.Core;
using ReadStates.Hosting;
using ReadStates.Storage.Scylla;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ReadStates.Tests.Hosting;

/// <summary>The shipped appsettings.json names every setting, with the defaults the code has.</summary>
public class AppSettingsTests
{
    private static readonly IConfiguration Config = new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: false)
        .Build();

    private static T Bind<T>(string section) where T : new()
    {
        DurationConverter.Register(); // the host's duration syntax (appsettings.json writes "1s")
        var options = new T();
        Config.GetSection(section).Bind(options, b => b.ErrorOnUnknownConfiguration = true);
        return options;
    }

    private static void AssertSameSettings<T>(T expected, T actual) =>
        Assert.Equal(JsonSerializer.Serialize(expected), JsonSerializer.Serialize(actual));

    private static void AssertEverySettingListed(string section, Type type, string prefix = "")
    {
        var defaults = Activator.CreateInstance(type);
        foreach (var property in type.GetProperties().Where(p => p.CanWrite))
        {
            // A setting whose default is "unset" (null) cannot be written in JSON; the docs list it.
            if (property.GetValue(defaults) is null) continue;
            var key = $"{section}:{prefix}{property.Name}";
            if (property.PropertyType.IsClass && property.PropertyType != typeof(string) && !property.PropertyType.IsArray)
                AssertEverySettingListed(section, property.PropertyType, $"{prefix}{property.Name}:");
            else
                Assert.True(Config.GetSection(key).Exists(), $"appsettings.json lacks {key}");
        }
    }

    [Fact]
    public void EngineSection_ListsEverySetting_WithTheCodeDefaults()
    {
        AssertEverySettingListed("Engine", typeof(EngineOptions));
        AssertSameSettings(new EngineOptions(), Bind<EngineOptions>("Engine"));
    }

    [Fact]
    public void ServiceSection_ListsEverySetting_WithTheCodeDefaults()
    {
        AssertEverySettingListed("Service", typeof(ServiceOptions));
        AssertSameSettings(new ServiceOptions(), Bind<ServiceOptions>("Service"));
    }

    [Fact]
    public void StorageSection_ListsEverySetting_WithTheCodeDefaults_AndIsValid()
    {
        AssertEverySettingListed("Storage", typeof(StorageOptions));
        var storage = Bind<StorageOptions>("Storage");
        AssertSameSettings(new StorageOptions(), storage);
        Assert.Empty(storage.Validate());
    }

    [Fact]
    public void MetricsSection_ListsEverySetting_WithTheCodeDefaults()
    {
        AssertEverySettingListed("Metrics", typeof(MetricsOptions));
        AssertSameSettings(new MetricsOptions(), Bind<MetricsOptions>("Metrics"));
    }

    [Fact]
    public void TracingSection_ListsEverySetting_WithTheCodeDefaults_Off()
    {
        AssertEverySettingListed("Tracing", typeof(TracingOptions));
        var tracing = Bind<TracingOptions>("Tracing");
        AssertSameSettings(new TracingOptions(), tracing);
        Assert.False(tracing.Enabled);
    }

    [Fact]
    public void HealthSection_ListsEverySetting_WithTheCodeDefaults()
    {
        AssertEverySettingListed("Health", typeof(HealthOptions));
        AssertSameSettings(new HealthOptions(), Bind<HealthOptions>("Health"));
        Assert.Equal(TimeSpan.FromSeconds(5), new HealthOptions().EffectiveReadinessMaxFlushAge(new EngineOptions()));
        Assert.Equal(TimeSpan.FromSeconds(150), new HealthOptions().EffectiveReadinessMaxFlushAge(new EngineOptions { FlushInterval = TimeSpan.FromSeconds(30) }));
    }

    [Fact]
    public void AuthSection_ListsEverySetting_WithTheCodeDefaults_AndIsValid()
    {
        AssertEverySettingListed("Auth", typeof(ReadStates.Hosting.Auth.AuthOptions));
        var auth = Bind<ReadStates.Hosting.Auth.AuthOptions>("Auth");
        AssertSameSettings(new ReadStates.Hosting.Auth.AuthOptions(), auth);
        Assert.Empty(auth.Validate());
        Assert.False(auth.Enabled); // a fresh checkout runs on loopback without credentials
    }

    [Fact]
    public void ScyllaSection_ListsEverySetting_AndTheHostBindsItToTheCodeDefaults()
    {
        AssertEverySettingListed("Scylla", typeof(ScyllaOptions));
        var app = ReadStatesHost.Build([]);
        var bound = app.Services.GetRequiredService<IOptions<ScyllaOptions>>().Value;
        AssertSameSettings(new ScyllaOptions(), bound);
        Assert.Equal(["127.0.0.1"], bound.ContactPoints); // replaced, not appended to the default
    }

    [Fact]
    public void ConfiguredContactPoints_ReplaceTheDefault()
    {
        var app = ReadStatesHost.Build(["--Scylla:ContactPoints:0=scylla-1", "--Scylla:ContactPoints:1=scylla-2"]);

        Assert.Equal(["scylla-1", "scylla-2"], app.Services.GetRequiredService<IOptions<ScyllaOptions>>().Value.ContactPoints);
    }

    [Fact]
    public void Endpoints_SpeakHttp2WithoutTls()
    {
        Assert.Equal("Http2", Config["Kestrel:EndpointDefaults:Protocols"]);
    }
}
