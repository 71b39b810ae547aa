using Grpc.Core;
using ReadStates.Api.Streaming;
using ReadStates.Api.V1;

namespace ReadStates.Api;

internal sealed partial class ReadStatesService
{
    /// <summary>Many operations on one bidirectional stream; see <see cref="StreamSession"/>.</summary>
    public override Task Stream(IAsyncStreamReader<StreamRequest> requestStream, IServerStreamWriter<StreamResponse> responseStream, ServerCallContext context) =>
        new StreamSession(engine, limits, streamErrors, requestStream, responseStream, context).RunAsync();
}
