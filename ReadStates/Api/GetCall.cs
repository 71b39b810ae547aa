using System.Buffers;
using ReadStates.Api.V1;
using ReadStates.Core;

namespace ReadStates.Api;

/// <summary>
/// One Get in flight, for the unary <c>Get</c> and the <c>Stream</c> entries alike: the engine copies the user
/// into a pooled <see cref="UserSnapshot"/> under the shard lock, and the protobuf reply is built here, after
/// the lock is released. A <c>since_version</c> reads only the changes after it (<see cref="ReadStateEngine.ReadChangesAsync"/>).
/// Exactly one of <see cref="Finish"/> or <see cref="Abandon"/> returns the channel array and the snapshot to their pools.
/// </summary>
internal readonly struct GetCall
{
    private readonly UserSnapshot _snapshot;
    private readonly ulong[] _channels;

    private GetCall(UserSnapshot snapshot, ulong[] channels, ValueTask pending)
    {
        _snapshot = snapshot;
        _channels = channels;
        Pending = pending;
    }

    public ValueTask Pending { get; }

    /// <summary>Validated requests only.</summary>
    public static GetCall Start(ReadStateEngine engine, GetRequest request, CancellationToken ct)
    {
        var snapshot = UserSnapshotPool.Shared.Get();
        var channels = ReadStatesService.Rent(request.ChannelIds, out int n);
        try
        {
            var pending = request.HasSinceVersion
                ? engine.ReadChangesAsync(request.UserId, request.SinceVersion, channels.AsMemory(0, n), snapshot, ct)
                : engine.ReadAsync(request.UserId, channels.AsMemory(0, n), snapshot, ct);
            return new GetCall(snapshot, channels, pending);
        }
        catch
        {
            ArrayPool<ulong>.Shared.Return(channels);
            UserSnapshotPool.Shared.Return(snapshot);
            throw;
        }
    }

    public GetResponse Finish()
    {
        var response = GetResponseBuilder.From(_snapshot);
        Abandon();
        return response;
    }

    public void Abandon()
    {
        ArrayPool<ulong>.Shared.Return(_channels);
        UserSnapshotPool.Shared.Return(_snapshot);
    }
}
