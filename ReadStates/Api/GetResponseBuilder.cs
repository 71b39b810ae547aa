using ReadStates.Core;
using ReadStates.Api.V1;

namespace ReadStates.Api;

/// <summary>Turns the engine's read of one user into a <see cref="GetResponse"/>; runs under the shard lock, so it only copies.</summary>
internal sealed class GetResponseBuilder : IReadStateVisitor
{
    public GetResponse Response { get; } = new();

    public void Begin(ulong userVersion, in UserTotals totals)
    {
        // A retried read (the user was evicted between load and read) starts over.
        Response.States.Clear();
        Response.Parents.Clear();
        Response.Version = userVersion;
        Response.TotalMentions = (ulong)Math.Max(0, totals.TotalMentions);
        Response.ChannelsWithMentions = (uint)Math.Max(0, totals.ChannelsWithMentions);
    }

    public void Parent(in ParentTotal parent) => Response.Parents.Add(ProtoMapper.ToProto(parent));

    public void State(in ReadStates.Core.ReadState state) => Response.States.Add(ProtoMapper.ToProto(state));
}
