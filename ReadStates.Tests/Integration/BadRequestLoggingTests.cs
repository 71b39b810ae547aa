using Grpc.Core;
using Microsoft.Extensions.Logging;
using ReadStates.Api.V1;
using ReadStates.Tests.Support;

namespace ReadStates.Tests.Integration;

/// <summary>
/// A client's bad request costs at most one short Debug line and never a stack trace; a body that does
/// not decode answers INVALID_ARGUMENT, never UNKNOWN. Logging runs at Debug with the shipped
/// appsettings.json category levels, so the test sees everything an operator at Debug would.
/// </summary>
public sealed class BadRequestLoggingTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private readonly CapturingLoggerProvider _logs = new();
    private RunningService _service = null!;

    public async Task InitializeAsync() =>
        _service = await RunningService.StartAsync(_dir.Path, b => b.Logging.AddProvider(_logs), "Logging:LogLevel:Default=Debug");

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        _dir.Dispose();
    }

    private static readonly Marshaller<byte[]> Raw = Marshallers.Create(b => b, b => b);

    private static Method<byte[], byte[]> RawMethod(string name) => new(MethodType.Unary, "readstates.v1.ReadStates", name, Raw, Raw);

    private async Task<StatusCode> CallRawAsync(string method, byte[] body)
    {
        try
        {
            await _service.Channel.CreateCallInvoker().AsyncUnaryCall(RawMethod(method), null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(20)), body);
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    /// <summary>Entries about requests (ours and grpc-dotnet's), ignoring Kestrel's and the host's own chatter.</summary>
    private List<CapturedLog> RequestLogs() =>
        [.. _logs.Entries.Where(e => e.Category.StartsWith("Grpc", StringComparison.Ordinal) || e.Category.StartsWith("ReadStates.Api", StringComparison.Ordinal))];

    private void AssertNoStackTraces()
    {
        foreach (var entry in _logs.Entries)
        {
            Assert.True(entry.Exception is null, $"{entry.Category} logged an exception: {entry.Exception}");
            Assert.DoesNotContain("   at ", entry.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Ack", new byte[] { 0x00 })]                  // tag zero
    [InlineData("Ack", new byte[] { 0x09, 0x01, 0x02 })]      // fixed64 user_id cut short
    [InlineData("Get", new byte[] { 0x12, 0x7f, 0x01 })]      // length-delimited field longer than the message
    [InlineData("Delete", new byte[] { 0x0f })]               // wire type 7 does not exist
    public async Task UndecodableBody_AnswersInvalidArgument_WithOneDebugLine_AndNoStackTrace(string method, byte[] body)
    {
        _logs.Clear();

        Assert.Equal(StatusCode.InvalidArgument, await CallRawAsync(method, body));

        var logged = RequestLogs();
        var line = Assert.Single(logged);
        Assert.Equal(LogLevel.Debug, line.Level);
        Assert.Equal(2005, line.EventId.Id);
        Assert.Contains($"/readstates.v1.ReadStates/{method}", line.Message, StringComparison.Ordinal);
        Assert.True(line.Message.Length < 200, line.Message);
        AssertNoStackTraces();
        var state = await _service.Client.GetAsync(new GetRequest { UserId = 1 });
        Assert.Empty(state.States); // nothing changed
    }

    [Fact]
    public async Task InvalidRequest_CostsOneDebugLine()
    {
        _logs.Clear();

        var error = await Assert.ThrowsAsync<RpcException>(() => _service.Client.AckAsync(new AckRequest { UserId = 0, ChannelId = 1, MessageId = 1 }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var line = Assert.Single(RequestLogs());
        Assert.Equal((LogLevel.Debug, 2001), (line.Level, line.EventId.Id));
        AssertNoStackTraces();
    }

    [Fact]
    public async Task RandomBodies_NeverAnswerUnknownOrInternal_AndLogNothingAboveDebug()
    {
        _logs.Clear();
        var random = new Random(12345);
        var seen = new HashSet<StatusCode>();
        for (int i = 0; i < 300; i++)
        {
            var body = new byte[random.Next(1, 40)];
            random.NextBytes(body);
            seen.Add(await CallRawAsync(i % 2 == 0 ? "Get" : "AckPins", body));
        }

        Assert.Subset(new HashSet<StatusCode> { StatusCode.OK, StatusCode.InvalidArgument }, seen);
        Assert.Contains(StatusCode.InvalidArgument, seen);
        Assert.All(RequestLogs(), e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.True(RequestLogs().Count <= 300, $"{RequestLogs().Count} lines for 300 calls");
        AssertNoStackTraces();
    }
}
