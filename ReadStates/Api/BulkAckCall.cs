using System.Buffers;
using ReadStates.Api.V1;
using ReadStates.Core;

namespace ReadStates.Api;

/// <summary>
/// One bulk ack in flight: the pooled command and result arrays, the engine's pending completion, and
/// the reply built from the results. Shared by the unary <c>BulkAck</c> and the <c>Stream</c> entries.
/// Exactly one of <see cref="Finish"/> or <see cref="Abandon"/> returns the arrays to the pool.
/// </summary>
internal readonly struct BulkAckCall
{
    private readonly AckCommand[] _commands;
    private readonly AckResult[] _results;
    private readonly int _count;

    private BulkAckCall(AckCommand[] commands, AckResult[] results, int count, ValueTask pending)
    {
        _commands = commands;
        _results = results;
        _count = count;
        Pending = pending;
    }

    public ValueTask Pending { get; }

    /// <summary>Validated requests only: the engine sees every entry mapped, in order.</summary>
    public static BulkAckCall Start(ReadStateEngine engine, BulkAckRequest request, CancellationToken ct)
    {
        int n = request.Entries.Count;
        var commands = ArrayPool<AckCommand>.Shared.Rent(n);
        var results = ArrayPool<AckResult>.Shared.Rent(n);
        try
        {
            for (int i = 0; i < n; i++) commands[i] = ProtoMapper.ToCore(request.Entries[i]);
            var pending = engine.BulkAckAsync(request.UserId, commands.AsMemory(0, n), results.AsMemory(0, n), ct);
            return new BulkAckCall(commands, results, n, pending);
        }
        catch
        {
            ArrayPool<AckCommand>.Shared.Return(commands);
            ArrayPool<AckResult>.Shared.Return(results);
            throw;
        }
    }

    /// <summary>After <see cref="Pending"/> completed successfully: the reply, and the arrays back to the pool.</summary>
    public BulkAckResponse Finish(bool omitStates = false)
    {
        var response = new BulkAckResponse();
        response.Results.Capacity = _count;
        for (int i = 0; i < _count; i++)
            response.Results.Add(omitStates ? new AckResponse { Applied = _results[i].Applied } : ProtoMapper.ToProto(_results[i]));
        Abandon();
        return response;
    }

    public void Abandon()
    {
        ArrayPool<AckCommand>.Shared.Return(_commands);
        ArrayPool<AckResult>.Shared.Return(_results);
    }
}
