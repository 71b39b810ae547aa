using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Tests.Core;

internal static class EngineTestKit
{
    public static EngineOptions SmallOptions(long capacity = 10_000, int shards = 4) => new()
    {
        CapacityStates = capacity,
        Shards = shards,
        MaxStatesPerUser = 50,
        MentionIdCap = 8,
        FlushInterval = TimeSpan.FromMilliseconds(100),
        MaxRetryDelay = TimeSpan.FromMilliseconds(50),
        ShutdownFlushTimeout = TimeSpan.FromSeconds(10),
    };

    public static ReadStateEngine Create(IReadStateStore store, EngineOptions? options = null) =>
        new(options ?? SmallOptions(), store);

    public static ValueTask<AckResult> Ack(this ReadStateEngine e, ulong user, ulong channel, ulong message, bool manual = false, StateAttributes attributes = default) =>
        e.AckAsync(user, new AckCommand { ChannelId = channel, MessageId = message, Manual = manual, Attributes = attributes });

    public static ValueTask<int> Mention(this ReadStateEngine e, ulong channel, ulong message, params ulong[] users) =>
        e.AddMentionsAsync(channel, message, users, default, null);

    public static ValueTask<int> Unmention(this ReadStateEngine e, ulong channel, ulong message, params ulong[] users) =>
        e.RemoveMentionsAsync(channel, message, users);

    public static async Task<Snapshot> GetAsync(this ReadStateEngine e, ulong user, params ulong[] channels)
    {
        var copy = new UserSnapshot();
        await e.ReadAsync(user, channels, copy);
        return new Snapshot(copy);
    }

    public static async Task<ReadState?> StateAsync(this ReadStateEngine e, ulong user, ulong channel)
    {
        var s = await e.GetAsync(user, channel);
        return s.States.Count == 0 ? null : s.States[0];
    }
}

/// <summary>What a read returned, as lists that tests can compare.</summary>
internal sealed class Snapshot(UserSnapshot copy)
{
    public ulong Version { get; } = copy.Version;
    public UserTotals Totals { get; } = copy.Totals;
    public List<ParentTotal> Parents { get; } = [.. copy.Parents.ToArray()];
    public List<ReadState> States { get; } = [.. copy.States.ToArray()];
}
