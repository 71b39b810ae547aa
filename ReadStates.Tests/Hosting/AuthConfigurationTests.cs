using System.Reflection;
using ReadStates.Api;
using ReadStates.Hosting;
using ReadStates.Hosting.Auth;

namespace ReadStates.Tests.Hosting;

/// <summary>Start-up checks of the Auth section and of where the service listens; the permission table of the API.</summary>
public class AuthConfigurationTests
{
    private static IReadOnlyList<string> Problems(params string[] args) => ReadStatesHost.CheckConfiguration(ReadStatesHost.Build(args).Services);

    private static string Key(int i, string permission = "read") =>
        $"--Auth:ApiKeys:{i}:Name=k{i}|--Auth:ApiKeys:{i}:Sha256={ApiKeyStore.HashOf("key-" + i)}|--Auth:ApiKeys:{i}:Permissions:0={permission}";

    private static string[] Args(params string[] parts) => [.. parts.SelectMany(p => p.Split('|'))];

    [Theory]
    [InlineData("--urls=http://0.0.0.0:5000", "http://0.0.0.0:5000")]
    [InlineData("--urls=http://127.0.0.1:5000;http://[::]:5001", "http://[::]:5001")]
    [InlineData("--urls=http://readstates.internal:5000", "http://readstates.internal:5000")]
    [InlineData("--http_ports=5000", "http://*:5000")]
    [InlineData("--Kestrel:Endpoints:Grpc:Url=http://*:5000", "http://*:5000")]
    [InlineData("--Metrics:Host=0.0.0.0", "metrics on 0.0.0.0:9464")]
    public void ListeningBeyondLoopback_WithoutCredentials_IsRefused_NamingTheAddressAndTheWayOut(string arg, string address)
    {
        var problem = Assert.Single(Problems(arg, "--Metrics:Enabled=true"));
        Assert.Contains(address, problem, StringComparison.Ordinal);
        Assert.Contains("needs authentication: configure Auth:ApiKeys or Auth:Jwt, or set Auth:AllowUnauthenticated=true", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--urls=http://127.0.0.1:5000;http://localhost:5001;http://[::1]:5002")]
    [InlineData("--urls=http://127.0.0.2:5000")]
    public void LoopbackOnly_RunsWithoutCredentials(string arg) => Assert.Empty(Problems(arg));

    [Fact]
    public void ListeningBeyondLoopback_IsAllowed_WithCredentials_OrTheExplicitWaiver()
    {
        Assert.Empty(Problems(Args("--urls=http://0.0.0.0:5000", Key(0))));
        Assert.Empty(Problems("--urls=http://0.0.0.0:5000", "--Auth:AllowUnauthenticated=true"));
    }

    [Theory]
    [InlineData("--Auth:ApiKeys:0:Name=a|--Auth:ApiKeys:0:Sha256=abc|--Auth:ApiKeys:0:Permissions:0=read", "Auth:ApiKeys:0:Sha256 must be the 64 hex digits")]
    [InlineData("--Auth:ApiKeys:0:Name=a|--Auth:ApiKeys:0:Sha256=" + "ab" + "cd" + "ef" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789|--Auth:ApiKeys:0:Permissions:0=admin", "Auth:ApiKeys:0:Permissions must list one or more of read, write; got 'admin'")]
    [InlineData("--Auth:ApiKeys:0:Sha256=abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789|--Auth:ApiKeys:0:Permissions:0=read", "Auth:ApiKeys:0:Name must name the caller")]
    [InlineData("--Auth:Jwt:SigningKeys:0=c2hvcnQ=|--Auth:Jwt:Issuer=i|--Auth:Jwt:Audience=a", "an HMAC secret needs at least 32 bytes; got 5")]
    [InlineData("--Auth:Jwt:SigningKeys:0=not base64!|--Auth:Jwt:Issuer=i|--Auth:Jwt:Audience=a", "Auth:Jwt:SigningKeys:0 must be a PEM public key or a base64 HMAC secret")]
    [InlineData("--Auth:Jwt:JwksPath=/nonexistent/jwks.json|--Auth:Jwt:Issuer=i|--Auth:Jwt:Audience=a", "Auth:Jwt:JwksPath '/nonexistent/jwks.json' cannot be read")]
    [InlineData("--Auth:Jwt:Issuer=i|--Auth:Jwt:Audience=a", "Auth:Jwt needs Auth:Jwt:SigningKeys or Auth:Jwt:JwksPath")]
    [InlineData("--Auth:Jwt:JwksPath=/x|--Auth:Jwt:Audience=a", "Auth:Jwt:Issuer must name the token issuer")]
    [InlineData("--Auth:Jwt:ClockSkew=10m|--Auth:Jwt:Issuer=i", "Auth:Jwt:ClockSkew must be between 0 and 5 minutes")]
    [InlineData("--Auth:Reflection=Sometimes", "Auth:Reflection")]
    public void BadAuthSettings_AreReported(string args, string message)
    {
        var problems = Problems(Args(args));
        Assert.Contains(problems, p => p.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void EveryReadStatesRpc_DeclaresThePermissionItNeeds()
    {
        // Get reads; every RPC that can change a read state writes. An RPC added to the proto fails here
        // until it is given a row, and is denied at run time until its method declares a permission.
        var expected = new Dictionary<string, Permission>
        {
            ["Ack"] = Permission.Write, ["BulkAck"] = Permission.Write, ["AckParent"] = Permission.Write, ["AckPins"] = Permission.Write,
            ["AddMentions"] = Permission.Write, ["RemoveMentions"] = Permission.Write, ["Delete"] = Permission.Write,
            ["Get"] = Permission.Read, ["Watch"] = Permission.Read, ["Stream"] = Permission.Read,
        };
        var service = typeof(ReadStatesHost).Assembly.GetType("ReadStates.Api.ReadStatesService", throwOnError: true)!;
        foreach (var method in ReadStates.Api.V1.ReadStates.Descriptor.Methods)
        {
            Assert.True(expected.TryGetValue(method.Name, out var permission), $"RPC {method.Name} has no expected permission in this test: decide Read or Write and add it.");
            var handler = service.GetMethod(method.Name, BindingFlags.Public | BindingFlags.Instance);
            Assert.NotNull(handler);
            Assert.Equal(permission, handler.GetCustomAttribute<RequiresPermissionAttribute>()?.Permission);
        }
    }

    [Fact]
    public void ApiKeyStore_FindsAKeyByItsHash_Only()
    {
        var store = new ApiKeyStore([new ApiKeyOptions { Name = "a", Sha256 = ApiKeyStore.HashOf("secret-a"), Permissions = ["read", "write"] }]);

        Assert.Equal("a", store.Find("secret-a")?.Name);
        Assert.Equal(Permission.Read | Permission.Write, store.Find("secret-a")?.Permissions);
        Assert.Null(store.Find("secret-b"));
        Assert.Null(store.Find(""));
        Assert.Null(store.Find(new string('x', ApiKeyStore.MaxKeyLength + 1)));
    }
}
