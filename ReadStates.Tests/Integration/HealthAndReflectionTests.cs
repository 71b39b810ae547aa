using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;

namespace ReadStates.Tests.Integration;

public sealed class HealthAndReflectionTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private RunningService _service = null!;

    public async Task InitializeAsync() => _service = await RunningService.StartAsync(_dir.Path);

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    [Theory]
    [InlineData("")]
    [InlineData("readstates.v1.ReadStates")]
    [InlineData("liveness")]
    [InlineData("readiness")]
    public async Task HealthCheck_ReportsServing_WhileTheStoreWorks(string service)
    {
        var health = new Health.HealthClient(_service.Channel);

        var response = await health.CheckAsync(new HealthCheckRequest { Service = service });

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task HealthCheck_OfAnUnknownService_IsNotFound()
    {
        var health = new Health.HealthClient(_service.Channel);

        var ex = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "nope" }).ResponseAsync);

        Assert.Equal(Grpc.Core.StatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task Reflection_ListsTheServices_AndDescribesTheApi()
    {
        var reflection = new ServerReflection.ServerReflectionClient(_service.Channel);
        using var call = reflection.ServerReflectionInfo();

        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();

        await call.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = "readstates.v1.ReadStates" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var files = call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto
            .Select(bytes => Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(bytes)).ToList();
        await call.RequestStream.CompleteAsync();

        Assert.Contains("readstates.v1.ReadStates", services);
        Assert.Contains("grpc.health.v1.Health", services);
        var api = Assert.Single(files, f => f.Package == "readstates.v1");
        var methods = api.Service.Single(s => s.Name == "ReadStates").Method.Select(m => m.Name);
        Assert.Equal(["Ack", "BulkAck", "AckParent", "AckPins", "AddMentions", "RemoveMentions", "Get", "Delete", "Watch", "Stream"], methods);
        // The bench's internal diagnostics are not served unless Service:BenchDiagnostics turns them on.
        Assert.DoesNotContain(services, s => s.StartsWith("readstates.internal", StringComparison.Ordinal));
    }
}
