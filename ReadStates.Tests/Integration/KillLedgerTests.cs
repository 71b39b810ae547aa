using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using ReadStates.Api.V1;
using ReadStatesClient = ReadStates.Api.V1.ReadStates.ReadStatesClient;

namespace ReadStates.Tests.Integration;

/// <summary>
/// Run alone: eight writers flooding a child process, three process starts per mode. Sharing the two
/// cores with the other process tests slowed theirs past their bounds.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KillLedgerCollection
{
    public const string Name = "Process kill ledger";
}

/// <summary>
/// The durability promise, tested as a crash tests it: concurrent writers record every ack the real
/// service process answered OK (user, channel, message, when), the process is killed with SIGKILL at
/// an arbitrary moment, restarted on the same directory (replaying its change log), and every recorded
/// ack is looked up. Durable mode must have lost none. Deferred mode must have lost none older than
/// <c>FlushInterval</c> plus a slack: a pass runs every half interval, so a change older than one interval
/// was collected at least half an interval ago; the slack covers a late timer and the store write on
/// this shared 2-core machine (load averages of 10–16 while helpers build), not the design.
/// </summary>
[Collection(KillLedgerCollection.Name)]
public sealed class KillLedgerTests
{
    private const int Rounds = 2;
    private const int Writers = 8;
    private const int UsersPerWriter = 10;
    private const int Channels = 3;
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan DeferredSlack = TimeSpan.FromMilliseconds(800);

    private static readonly string?[] Errors = new string?[Writers];

    private readonly record struct Ack(ulong User, ulong Channel, ulong Message, long AckedAt);

    [Theory]
    [InlineData("durable")]
    [InlineData("deferred")]
    public async Task KillDashNine_LosesNoAcknowledgedAck_DurableNone_DeferredNoneOlderThanTheFlushInterval(string mode)
    {
        using var dir = new TempDir();
        string[] args = ["--urls=http://127.0.0.1:0", $"--Engine:Durability={mode}", $"--Engine:FlushInterval={FlushInterval:c}"];
        var random = new Random(mode.Length);
        List<Ack>? previous = null;
        long previousKill = 0;
        int checkedAcks = 0;
        for (int round = 1; round <= Rounds + 1; round++)
        {
            using var child = ServiceProcess.Launch(dir.Path, args);
            string address = await child.Output.WaitForListeningAddressAsync(TimeSpan.FromSeconds(60));
            using var channel = GrpcChannel.ForAddress(address);
            var client = new ReadStatesClient(channel);
            if (previous is not null) checkedAcks += await AssertSurvivedAsync(client, previous, previousKill, mode, child);
            if (round > Rounds) break;

            var acks = new List<Ack>[Writers];
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(client, w, round, acks, stop.Token))).ToArray();
            // Writing is under way (a loaded machine warms up slowly), then the kill comes at a random moment.
            var warm = Stopwatch.StartNew();
            while (acks.Sum(a => a?.Count ?? 0) < 200 && warm.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(20);
            await Task.Delay(TimeSpan.FromMilliseconds(500 + random.Next(1000)));
            previousKill = Stopwatch.GetTimestamp();
            child.Process.Kill(); // SIGKILL: no shutdown, no final flush
            await child.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await stop.CancelAsync();
            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));
            previous = [.. acks.SelectMany(a => a)];
            Assert.True(previous.Count > 100, $"round {round}: only {previous.Count} acks were answered; writers stopped on: {string.Join(" | ", Errors)}\n{child.Output.Text}");
        }
        Assert.True(checkedAcks > 0, "some acks were old enough to check");
    }

    private static async Task WriteAsync(ReadStatesClient client, int writer, int round, List<Ack>[] acks, CancellationToken stop)
    {
        var mine = acks[writer] = [];
        // Each writer owns its users, and its message ids only grow: the newest answered ack per key is the one to find.
        ulong baseUser = (ulong)(writer * UsersPerWriter + 1);
        for (ulong n = 0; !stop.IsCancellationRequested && n < 1_000_000; n++)
        {
            ulong user = baseUser + n % UsersPerWriter, channel = 1 + n / UsersPerWriter % Channels;
            ulong message = (ulong)round * 10_000_000 + n + 1;
            try
            {
                await client.AckAsync(new AckRequest { UserId = user, ChannelId = channel, MessageId = message }, cancellationToken: stop);
            }
            catch (RpcException ex)
            {
                // The process died (or refused): this ack's outcome is unknown, so it is not in the ledger.
                Errors[writer] = $"{ex.StatusCode}: {ex.Status.Detail}";
                return;
            }
            mine.Add(new Ack(user, channel, message, Stopwatch.GetTimestamp()));
        }
    }

    private static async Task<int> AssertSurvivedAsync(ReadStatesClient client, List<Ack> acks, long killedAt, string mode, ServiceChild child)
    {
        long cutoff = mode == "durable" ? long.MaxValue : killedAt - (long)((FlushInterval + DeferredSlack).TotalSeconds * Stopwatch.Frequency);
        var expected = acks.Where(a => a.AckedAt <= cutoff)
            .GroupBy(a => (a.User, a.Channel))
            .Select(g => g.MaxBy(a => a.Message))
            .ToList();
        var lost = new List<string>();
        foreach (var ack in expected)
        {
            var got = await client.GetAsync(new GetRequest { UserId = ack.User, ChannelIds = { ack.Channel } });
            ulong stored = got.States.Count == 0 ? 0 : got.States[0].LastMessageId;
            if (stored < ack.Message)
                lost.Add($"user {ack.User} channel {ack.Channel}: acked {ack.Message} {(killedAt - ack.AckedAt) * 1000 / Stopwatch.Frequency} ms before the kill, found {stored}");
        }
        Assert.True(lost.Count == 0, $"{mode}: {lost.Count} of {expected.Count} acknowledged acks lost:\n{string.Join("\n", lost.Take(10))}\n{child.Output.Text}");
        return expected.Count;
    }
}
