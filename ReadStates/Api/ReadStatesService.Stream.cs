using Grpc.Core;
using ReadStates.Api.Streaming;
using ReadStates.Api.V1;

namespace ReadStates.Api;

internal sealed partial class ReadStatesService
{
    /// <summary>
    /// Many operations on one bidirectional stream; see <see cref="StreamSession"/>. Opening it needs the read
    /// permission; each operation is then checked against what it needs (get: read, the rest: write), so a
    /// read-only caller's write operations are refused one by one with PERMISSION_DENIED.
    /// </summary>
    [RequiresPermission(Permission.Read, PerOperation = true)]
    public override Task Stream(IAsyncStreamReader<StreamRequest> requestStream, IServerStreamWriter<StreamResponse> responseStream, ServerCallContext context) =>
        new StreamSession(engine, limits, streamErrors, requestStream, responseStream, context).RunAsync();
}
