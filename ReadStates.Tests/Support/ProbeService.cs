using Grpc.Core;
using ReadStates.Api;
using ReadStates.Tests.Probe;

namespace ReadStates.Tests.Support;

/// <summary>Stands for an RPC someone adds later: one declares its permission, one forgets.</summary>
internal sealed class ProbeService : Probe.Probe.ProbeBase
{
    [RequiresPermission(Permission.Read)]
    public override Task<Ping> Declared(Ping request, ServerCallContext context) => Task.FromResult(new Ping { Text = "declared " + request.Text });

    public override Task<Ping> Undeclared(Ping request, ServerCallContext context) => Task.FromResult(new Ping { Text = "undeclared " + request.Text });
}
