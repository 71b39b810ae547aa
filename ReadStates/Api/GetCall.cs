using System.Buffers;
using ReadStates.Api.V1;
using ReadStates.Core;

namespace ReadStates.Api;

/// <summary>
/// One Get in flight, for the unary <c>Get</c> and the <c>Stream</c> entries alike. Today the engine's visitor
/// builds the protobuf reply under the shard lock (<see cref="GetResponseBuilder"/>); the engine's pooled read
/// buffer (issue 11: copy under the lock, build outside it) replaces that here and nowhere else.
/// Exactly one of <see cref="Finish"/> or <see cref="Abandon"/> returns the channel array to the pool.
/// </summary>
internal readonly struct GetCall
{
    private readonly GetResponseBuilder _builder;
    private readonly ulong[] _channels;

    private GetCall(GetResponseBuilder builder, ulong[] channels, ValueTask pending)
    {
        _builder = builder;
        _channels = channels;
        Pending = pending;
    }

    public ValueTask Pending { get; }

    /// <summary>Validated requests only.</summary>
    public static GetCall Start(ReadStateEngine engine, GetRequest request, CancellationToken ct)
    {
        var builder = new GetResponseBuilder();
        var channels = ReadStatesService.Rent(request.ChannelIds, out int n);
        try
        {
            return new GetCall(builder, channels, engine.ReadAsync(request.UserId, channels.AsMemory(0, n), builder, ct));
        }
        catch
        {
            ArrayPool<ulong>.Shared.Return(channels);
            throw;
        }
    }

    public GetResponse Finish()
    {
        Abandon();
        return _builder.Response;
    }

    public void Abandon() => ArrayPool<ulong>.Shared.Return(_channels);
}
