using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using ReadStates.Api.V1;
using ReadStates.Tests.Probe;
using ReadStates.Tests.Support;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>
/// Authentication and authorization through the real server: API keys and JWTs (HMAC inline, RSA from a
/// JWKS file), read vs write, health open, reflection behind read, an RPC without a declared permission
/// denied. Refused calls change nothing.
/// </summary>
public sealed class AuthTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly AuthKit _kit = new();
    private RunningService _service = null!;

    public async Task InitializeAsync() =>
        _service = await RunningService.StartAsync(_dir.Path, null, app => app.MapGrpcService<ProbeService>(), null, _kit.Settings());

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        _kit.Dispose();
        _dir.Dispose();
    }

    private ReadStatesClient Client => _service.Client;

    private static readonly ulong User = 77;

    /// <summary>Every readstates.v1 RPC with a valid request for <see cref="User"/>; Get reads, the rest write.</summary>
    public static TheoryData<string> Rpcs => ["Ack", "BulkAck", "AckParent", "AckPins", "AddMentions", "RemoveMentions", "Get", "Delete"];

    private static Task CallAsync(ReadStatesClient client, string rpc, Metadata? headers) => rpc switch
    {
        "Ack" => client.AckAsync(new AckRequest { UserId = User, ChannelId = 1, MessageId = 10 }, headers).ResponseAsync,
        "BulkAck" => client.BulkAckAsync(new BulkAckRequest { UserId = User, Entries = { new BulkAckEntry { ChannelId = 2, MessageId = 20 } } }, headers).ResponseAsync,
        "AckParent" => client.AckParentAsync(new AckParentRequest { UserId = User, ParentId = 5, MessageId = 30 }, headers).ResponseAsync,
        "AckPins" => client.AckPinsAsync(new AckPinsRequest { UserId = User, ChannelId = 3, LastPinTimestamp = 1_700_000_000_000 }, headers).ResponseAsync,
        "AddMentions" => client.AddMentionsAsync(new AddMentionsRequest { ChannelId = 4, MessageId = 40, UserIds = { User } }, headers).ResponseAsync,
        "RemoveMentions" => client.RemoveMentionsAsync(new RemoveMentionsRequest { ChannelId = 4, MessageId = 40, UserIds = { User } }, headers).ResponseAsync,
        "Get" => client.GetAsync(new GetRequest { UserId = User }, headers).ResponseAsync,
        "Delete" => client.DeleteAsync(new DeleteRequest { UserId = User, All = true }, headers).ResponseAsync,
        _ => throw new ArgumentOutOfRangeException(nameof(rpc)),
    };

    private async Task<StatusCode> StatusOf(string rpc, Metadata? headers)
    {
        try
        {
            await CallAsync(Client, rpc, headers);
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private async Task AssertNothingStoredAsync()
    {
        var state = await Client.GetAsync(new GetRequest { UserId = User }, AuthKit.ApiKey(_kit.ReaderKey));
        Assert.Empty(state.States);
    }

    [Theory]
    [MemberData(nameof(Rpcs))]
    public async Task NoCredentials_OrBadOnes_AreUnauthenticated_OnEveryRpc_AndChangeNothing(string rpc)
    {
        Assert.Equal(StatusCode.Unauthenticated, await StatusOf(rpc, null));
        Assert.Equal(StatusCode.Unauthenticated, await StatusOf(rpc, AuthKit.ApiKey(AuthKit.NewKey())));
        Assert.Equal(StatusCode.Unauthenticated, await StatusOf(rpc, AuthKit.XApiKey(_kit.WriterKey + "x")));
        Assert.Equal(StatusCode.Unauthenticated, await StatusOf(rpc, new Metadata { { "authorization", "Basic " + _kit.WriterKey } }));
        Assert.Equal(StatusCode.Unauthenticated, await StatusOf(rpc, AuthKit.Bearer("not.a.token")));
        await AssertNothingStoredAsync();
    }

    [Theory]
    [MemberData(nameof(Rpcs))]
    public async Task ReadKey_MayGet_AndIsDeniedEveryWrite_WhichChangesNothing(string rpc)
    {
        var expected = rpc == "Get" ? StatusCode.OK : StatusCode.PermissionDenied;
        Assert.Equal(expected, await StatusOf(rpc, AuthKit.ApiKey(_kit.ReaderKey)));
        Assert.Equal(expected, await StatusOf(rpc, AuthKit.Bearer(_kit.HmacToken("readstates.read"))));
        await AssertNothingStoredAsync();
    }

    [Theory]
    [MemberData(nameof(Rpcs))]
    public async Task WriteOnlyKey_MayWrite_ButNotGet(string rpc)
    {
        var expected = rpc == "Get" ? StatusCode.PermissionDenied : StatusCode.OK;
        Assert.Equal(expected, await StatusOf(rpc, AuthKit.ApiKey(_kit.WriteOnlyKey)));
    }

    [Fact]
    public async Task ReadWriteKey_Writes_AndReadsBack_ThroughEitherHeader()
    {
        var ack = await Client.AckAsync(new AckRequest { UserId = User, ChannelId = 9, MessageId = 99 }, AuthKit.ApiKey(_kit.WriterKey));
        Assert.True(ack.Applied);

        var state = await Client.GetAsync(new GetRequest { UserId = User }, AuthKit.XApiKey(_kit.WriterKey));

        Assert.Equal(99UL, Assert.Single(state.States).LastMessageId);
    }

    [Fact]
    public async Task Jwts_GrantTheirScopesOrRoles_FromInlineHmacKeys_AndFromTheJwksFile()
    {
        var both = AuthKit.Bearer(_kit.HmacToken("openid readstates.read readstates.write"));
        Assert.True((await Client.AckAsync(new AckRequest { UserId = User, ChannelId = 1, MessageId = 5 }, both)).Applied);
        Assert.Single((await Client.GetAsync(new GetRequest { UserId = User }, both)).States);

        var rsa = AuthKit.Bearer(_kit.RsaToken("readstates.read"));
        Assert.Single((await Client.GetAsync(new GetRequest { UserId = User }, rsa)).States);
        Assert.Equal(StatusCode.PermissionDenied, await StatusOf("Ack", rsa));

        var role = AuthKit.Bearer(_kit.HmacToken("", roles: "readstates.write"));
        Assert.Equal(StatusCode.OK, await StatusOf("Ack", role));
        Assert.Equal(StatusCode.PermissionDenied, await StatusOf("Get", role));
    }

    [Fact]
    public async Task Jwts_ThatAreExpired_ForAnotherAudienceOrIssuer_Unsigned_OrSignedByAStranger_AreUnauthenticated()
    {
        using var stranger = System.Security.Cryptography.RSA.Create(2048);
        string scope = "readstates.read readstates.write";
        string[] tokens =
        [
            _kit.HmacToken(scope, lifetime: TimeSpan.FromMinutes(-5)),
            _kit.HmacToken(scope, audience: "someone-else"),
            _kit.HmacToken(scope, issuer: "https://evil.test"),
            _kit.HmacToken(scope, secret: System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            _kit.RsaToken(scope, stranger),
            AuthKit.UnsignedToken(scope),
        ];
        foreach (var token in tokens)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => CallAsync(Client, "Ack", AuthKit.Bearer(token)));
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
            Assert.Contains("bearer token is not valid", error.Status.Detail, StringComparison.Ordinal);
        }
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task Health_StaysOpen_Reflection_NeedsRead()
    {
        var health = new Health.HealthClient(_service.Channel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);

        Assert.Equal(StatusCode.Unauthenticated, await ListServicesAsync(null).ContinueWith(t => (t.Exception?.InnerException as RpcException)?.StatusCode ?? StatusCode.OK));
        Assert.Contains("readstates.v1.ReadStates", await ListServicesAsync(AuthKit.ApiKey(_kit.ReaderKey)));
    }

    private async Task<List<string>> ListServicesAsync(Metadata? headers)
    {
        var reflection = new ServerReflection.ServerReflectionClient(_service.Channel);
        using var call = reflection.ServerReflectionInfo(headers, DateTime.UtcNow.AddSeconds(20));
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        await call.RequestStream.CompleteAsync();
        return [.. call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name)];
    }

    [Fact]
    public async Task AnRpcWithoutADeclaredPermission_IsDeniedToEveryCaller_EvenWithEveryPermission()
    {
        var probe = new Probe.Probe.ProbeClient(_service.Channel);
        var writer = AuthKit.ApiKey(_kit.WriterKey);

        Assert.Equal("declared hi", (await probe.DeclaredAsync(new Ping { Text = "hi" }, writer)).Text);
        var denied = await Assert.ThrowsAsync<RpcException>(() => probe.UndeclaredAsync(new Ping { Text = "hi" }, writer).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Contains("declares no permission", denied.Status.Detail, StringComparison.Ordinal);
        var anonymous = await Assert.ThrowsAsync<RpcException>(() => probe.UndeclaredAsync(new Ping()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
    }

    [Fact]
    public async Task AnUnknownMethod_IsUnauthenticatedWithoutCredentials_AndUnimplementedWithThem()
    {
        var method = new Method<Ping, Ping>(MethodType.Unary, "readstates.v1.ReadStates", "NoSuchRpc",
            Marshallers.Create((Ping p) => Google.Protobuf.MessageExtensions.ToByteArray(p), Ping.Parser.ParseFrom),
            Marshallers.Create((Ping p) => Google.Protobuf.MessageExtensions.ToByteArray(p), Ping.Parser.ParseFrom));
        var invoker = _service.Channel.CreateCallInvoker();

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(method, null, new CallOptions(), new Ping()).ResponseAsync);
        var known = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(method, null, new CallOptions(AuthKit.ApiKey(_kit.ReaderKey)), new Ping()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, known.StatusCode);
    }

    [Fact]
    public async Task Stream_ChecksEachOperation_AReaderGetsItsGets_ItsWritesAreDenied_AndChangeNothing()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        // Opening a stream needs the read permission.
        using (var anonymous = Client.Stream(cancellationToken: timeout.Token))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                await anonymous.RequestStream.WriteAsync(new StreamRequest { Id = 1, Get = new GetRequest { UserId = User } });
                await anonymous.ResponseStream.MoveNext(timeout.Token);
            });
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        }

        var replies = await RunStreamAsync(AuthKit.ApiKey(_kit.ReaderKey), timeout.Token,
            new StreamRequest { Id = 1, Ack = new AckRequest { UserId = User, ChannelId = 1, MessageId = 10 } },
            new StreamRequest { Id = 2, Get = new GetRequest { UserId = User } },
            new StreamRequest { Id = 3, Delete = new DeleteRequest { UserId = User, All = true } });
        Assert.Equal((int)StatusCode.PermissionDenied, replies[1].Status.Code);
        Assert.Null(replies[2].Status);
        Assert.Empty(replies[2].Get.States);
        Assert.Equal((int)StatusCode.PermissionDenied, replies[3].Status.Code);
        await AssertNothingStoredAsync();

        // A writer's stream may do both.
        var written = await RunStreamAsync(AuthKit.ApiKey(_kit.WriterKey), timeout.Token,
            new StreamRequest { Id = 1, Ack = new AckRequest { UserId = User, ChannelId = 1, MessageId = 10 } },
            new StreamRequest { Id = 2, Get = new GetRequest { UserId = User } });
        Assert.Null(written[1].Status);
        Assert.Equal(10UL, written[2].Get.States.Single().LastMessageId);
    }

    private async Task<Dictionary<ulong, StreamResponse>> RunStreamAsync(Metadata headers, CancellationToken ct, params StreamRequest[] requests)
    {
        using var call = Client.Stream(headers, cancellationToken: ct);
        // One after another, so a write is answered before the read that follows it is sent.
        var replies = new Dictionary<ulong, StreamResponse>();
        foreach (var request in requests)
        {
            await call.RequestStream.WriteAsync(request, ct);
            Assert.True(await call.ResponseStream.MoveNext(ct));
            replies[call.ResponseStream.Current.Id] = call.ResponseStream.Current;
        }
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(ct));
        return replies;
    }
}
