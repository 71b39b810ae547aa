using System.Security.Claims;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ReadStates.Api;
using ReadStates.Hosting.Auth;

namespace ReadStates.Bench.Micro;

/// <summary>
/// What the authorization gate costs one call (the middleware in front of every readstates.v1 RPC, up to
/// where the call would go on to grpc-dotnet): authentication off (the baseline), an API key (hash,
/// lookup, constant-time compare, no principal), the same key turned into a ClaimsPrincipal and ticket
/// as an AuthenticationHandler scheme would, and JWTs through the real JwtBearer handler (HS256, RS256).
/// </summary>
[MemoryDiagnoser]
public class AuthGate
{
    private static readonly Method<byte[], byte[]> AckMethod = new(MethodType.Unary, "readstates.v1.ReadStates", "Ack",
        Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    private readonly string _key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly byte[] _secret = RandomNumberGenerator.GetBytes(32);
    private readonly RSA _rsa = RSA.Create(2048);
    private RpcAuthorizationMiddleware _off = null!, _on = null!;
    private CallerAuthenticator _authenticator = null!;
    private IServiceProvider _services = null!;
    private DefaultHttpContext _offContext = null!, _keyContext = null!, _hmacContext = null!, _rsaContext = null!;
    private Endpoint _endpoint = null!;

    [GlobalSetup]
    public void Setup()
    {
        string jwks = Path.Combine(Path.GetTempPath(), $"readstates-bench-jwks-{Environment.ProcessId}.json");
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(_rsa.ExportParameters(false)) { KeyId = "k" });
        File.WriteAllText(jwks, System.Text.Json.JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid = "k", n = jwk.N, e = jwk.E } } }));
        var options = new AuthOptions
        {
            ApiKeys = [
                new ApiKeyOptions { Name = "other", Sha256 = ApiKeyStore.HashOf("another-key"), Permissions = ["read"] },
                new ApiKeyOptions { Name = "gateway", Sha256 = ApiKeyStore.HashOf(_key), Permissions = ["read", "write"] },
            ],
            Jwt = new JwtOptions { Issuer = "https://issuer", Audience = "readstates", SigningKeys = [Convert.ToBase64String(_secret)], JwksPath = jwks },
        };
        var services = new ServiceCollection().AddLogging();
        AuthSetup.AddJwtBearer(services, () => options.Jwt);
        _services = services.BuildServiceProvider();
        _authenticator = new CallerAuthenticator(options, NullLogger<CallerAuthenticator>.Instance);
        _on = new RpcAuthorizationMiddleware(_ => Task.CompletedTask, _authenticator, NullLogger<RpcAuthorizationMiddleware>.Instance);
        _off = new RpcAuthorizationMiddleware(_ => Task.CompletedTask, new CallerAuthenticator(new AuthOptions(), NullLogger<CallerAuthenticator>.Instance),
            NullLogger<RpcAuthorizationMiddleware>.Instance);
        _endpoint = new Endpoint(null, new EndpointMetadataCollection(new GrpcMethodMetadata(typeof(object), AckMethod), new RequiresPermissionAttribute(Permission.Write)), "Ack");
        _offContext = Context(null);
        _keyContext = Context("ApiKey " + _key);
        _hmacContext = Context("Bearer " + Token(new SigningCredentials(new SymmetricSecurityKey(_secret), SecurityAlgorithms.HmacSha256)));
        _rsaContext = Context("Bearer " + Token(new SigningCredentials(new RsaSecurityKey(_rsa) { KeyId = "k" }, SecurityAlgorithms.RsaSha256)));
        // Every variant must actually let the call through.
        foreach (var c in new[] { _keyContext, _hmacContext, _rsaContext })
        {
            c.RequestServices = _services.CreateScope().ServiceProvider;
            _on.InvokeAsync(c).GetAwaiter().GetResult();
            if (c.Response.Headers.ContainsKey("grpc-status")) throw new InvalidOperationException("the gate refused a valid call: " + c.Response.Headers["grpc-message"]);
        }
    }

    private DefaultHttpContext Context(string? authorization)
    {
        var context = new DefaultHttpContext();
        context.Request.Path = "/readstates.v1.ReadStates/Ack";
        if (authorization is not null) context.Request.Headers.Authorization = authorization;
        context.SetEndpoint(_endpoint);
        return context;
    }

    private static string Token(SigningCredentials credentials) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "https://issuer",
        Audience = "readstates",
        Subject = new ClaimsIdentity([new Claim("sub", "gateway"), new Claim("scope", "readstates.read readstates.write")]),
        Expires = DateTime.UtcNow.AddHours(1),
        SigningCredentials = credentials,
    });

    [GlobalCleanup]
    public void Cleanup() => _rsa.Dispose();

    [Benchmark(Baseline = true)]
    public Task AuthenticationOff() => _off.InvokeAsync(_offContext);

    [Benchmark]
    public Task ApiKey() => _on.InvokeAsync(_keyContext);

    /// <summary>The same key check, plus what an AuthenticationHandler scheme builds for each call.</summary>
    [Benchmark]
    public bool ApiKeyAsPrincipal()
    {
        var caller = _authenticator.AuthenticateAsync(_keyContext).Result;
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, caller.Caller!), new Claim("permission", "read"), new Claim("permission", "write")], "ApiKey");
        var result = AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), "ApiKey"));
        _keyContext.User = result.Principal!;
        return result.Succeeded;
    }

    [Benchmark]
    public Task JwtHs256() => Jwt(_hmacContext);

    [Benchmark]
    public Task JwtRs256() => Jwt(_rsaContext);

    private Task Jwt(DefaultHttpContext context)
    {
        // A request's own DI scope, as Kestrel gives every request: the handler caches its result per request.
        var scope = _services.CreateScope();
        context.RequestServices = scope.ServiceProvider;
        var pending = _on.InvokeAsync(context);
        pending.GetAwaiter().GetResult();
        scope.Dispose();
        return pending;
    }
}
