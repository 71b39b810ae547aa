using Grpc.Net.Client;
using ReadStates.Api.Diagnostics;
using ReadStates.Api.V1;
using Client = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Bench.Serving;

/// <summary>
/// The operations <c>alloc</c> measures, one request at a time on resident users (the hot path): what each
/// costs the server in bytes. "empty" is the floor: a unary call that does nothing on the same host.
/// </summary>
internal sealed class AllocOps(GrpcChannel channel, int users, int channels)
{
    public static readonly string[] Names = ["empty", "ack", "bulk", "mention", "get", "get-all", "stream.ack", "stream.bulk", "stream.mention"];

    private const ulong ChannelBase = 1_000_000;
    private readonly Client _client = new(channel);
    private readonly ReadStates.Api.Diagnostics.Diagnostics.DiagnosticsClient _diag = new(channel);
    private readonly Random _rng = new(7);
    private ulong _message = 1UL << 40;
    private Grpc.Core.AsyncDuplexStreamingCall<StreamRequest, StreamResponse>? _stream;
    private ulong _streamId;

    /// <summary>One operation over a Stream call kept open across the run, one at a time (its reply awaited).</summary>
    private async Task StreamAsync(StreamRequest request)
    {
        _stream ??= _client.Stream();
        request.Id = ++_streamId;
        request.OmitStates = true;
        await _stream.RequestStream.WriteAsync(request);
        if (!await _stream.ResponseStream.MoveNext(CancellationToken.None)) throw new InvalidOperationException("The stream ended.");
        if (_stream.ResponseStream.Current.Status is { } status) throw new InvalidOperationException($"stream op failed: {status.Message}");
    }

    private ulong User(int i) => 1 + (ulong)i;
    private ulong NextUser() => User(_rng.Next(users));
    private ulong Channel(int i) => ChannelBase + (ulong)i;

    public async Task FillAsync()
    {
        for (int u = 0; u < users; u++)
        {
            var bulk = new BulkAckRequest { UserId = User(u) };
            for (int c = 0; c < channels; c++) bulk.Entries.Add(new BulkAckEntry { ChannelId = Channel(c), MessageId = _message });
            await _client.BulkAckAsync(bulk);
        }
    }

    public async Task RunAsync(string op, int count)
    {
        var empty = new EmptyMessage();
        for (int i = 0; i < count; i++)
        {
            ulong message = ++_message;
            switch (op)
            {
                case "empty":
                    await _diag.EmptyAsync(empty);
                    break;
                case "ack":
                    await _client.AckAsync(new AckRequest { UserId = NextUser(), ChannelId = Channel(_rng.Next(channels)), MessageId = message });
                    break;
                case "bulk":
                    var bulk = new BulkAckRequest { UserId = NextUser() };
                    int from = _rng.Next(channels - 10);
                    for (int c = 0; c < 10; c++) bulk.Entries.Add(new BulkAckEntry { ChannelId = Channel(from + c), MessageId = message });
                    await _client.BulkAckAsync(bulk);
                    break;
                case "mention":
                    var mention = new AddMentionsRequest { ChannelId = Channel(_rng.Next(channels)), MessageId = message };
                    for (int k = 0; k < 5; k++) mention.UserIds.Add(NextUser());
                    await _client.AddMentionsAsync(mention);
                    break;
                case "get":
                    var get = new GetRequest { UserId = NextUser() };
                    int start = _rng.Next(channels - 10);
                    for (int c = 0; c < 10; c++) get.ChannelIds.Add(Channel(start + c));
                    await _client.GetAsync(get);
                    break;
                case "get-all":
                    await _client.GetAsync(new GetRequest { UserId = NextUser() });
                    break;
                case "stream.ack":
                    await StreamAsync(new StreamRequest { Ack = new AckRequest { UserId = NextUser(), ChannelId = Channel(_rng.Next(channels)), MessageId = message } });
                    break;
                case "stream.bulk":
                    var sbulk = new BulkAckRequest { UserId = NextUser() };
                    int sfrom = _rng.Next(channels - 10);
                    for (int c = 0; c < 10; c++) sbulk.Entries.Add(new BulkAckEntry { ChannelId = Channel(sfrom + c), MessageId = message });
                    await StreamAsync(new StreamRequest { BulkAck = sbulk });
                    break;
                case "stream.mention":
                    var smention = new AddMentionsRequest { ChannelId = Channel(_rng.Next(channels)), MessageId = message };
                    for (int k = 0; k < 5; k++) smention.UserIds.Add(NextUser());
                    await StreamAsync(new StreamRequest { AddMentions = smention });
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(op), op, "unknown operation");
            }
        }
    }
}
