using Microsoft.Extensions.ObjectPool;
using ReadStates.Api.V1;
using ReadStates.Core;

namespace ReadStates.Api;

/// <summary>
/// Builds a <see cref="GetResponse"/> from a <see cref="UserSnapshot"/>: the engine copies a user's states
/// under the shard lock, the protobuf objects are made here, after the lock is released.
/// </summary>
internal static class GetResponseBuilder
{
    public static GetResponse From(UserSnapshot snapshot)
    {
        var totals = snapshot.Totals;
        var response = new GetResponse
        {
            Version = snapshot.Version,
            TotalMentions = (ulong)Math.Max(0, totals.TotalMentions),
            ChannelsWithMentions = (uint)Math.Max(0, totals.ChannelsWithMentions),
        };
        foreach (ref readonly var parent in snapshot.Parents) response.Parents.Add(ProtoMapper.ToProto(parent));
        foreach (ref readonly var state in snapshot.States) response.States.Add(ProtoMapper.ToProto(state));
        if (snapshot.Sync != Core.SyncStatus.Full)
        {
            response.Sync = ProtoMapper.ToProto(snapshot.Sync);
            response.SyncFloor = snapshot.SyncFloor;
            foreach (ref readonly var deleted in snapshot.Deleted) response.Deleted.Add(ProtoMapper.ToProto(deleted));
        }
        return response;
    }
}

/// <summary>Reuses snapshots across Get calls; one that grew for a very large user is dropped rather than kept.</summary>
internal sealed class UserSnapshotPool() : DefaultObjectPool<UserSnapshot>(new Policy(), Environment.ProcessorCount * 4)
{
    private const int MaxKeptCapacity = 4096;

    /// <summary>The process's pool: snapshots hold nothing of a host, so every host and call may share them.</summary>
    public static UserSnapshotPool Shared { get; } = new();

    private sealed class Policy : IPooledObjectPolicy<UserSnapshot>
    {
        public UserSnapshot Create() => new();

        public bool Return(UserSnapshot obj) => obj.Capacity <= MaxKeptCapacity;
    }
}
