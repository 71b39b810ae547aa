using ReadStates.Bench.Shared;
using ReadStates.Core;

namespace ReadStates.Bench.Memory;

/// <summary>What the memory mode fills and exercises: the engine, or the class-per-state baseline.</summary>
internal interface IPopulation : IAsyncDisposable
{
    string Name { get; }
    void Fill(ulong userId, AckCommand[] commands, AckResult[] results);
    void Ack(ulong userId, ulong channelId, ulong messageId);
    void Mention(ulong channelId, ulong messageId, ulong[] userIds);
    long Get(ulong userId);
}

internal sealed class EnginePopulation : IPopulation
{
    private readonly ReadStateEngine _engine;
    private readonly DiscardStore _store = new();

    [ThreadStatic] private static UserSnapshot? t_snapshot;

    public EnginePopulation(long states, int channelsPerUser)
    {
        _engine = new ReadStateEngine(new EngineOptions
        {
            // Room for every state plus slack, so nothing is evicted: the figure is the resident cost.
            CapacityStates = states + states / 10 + 1_000_000,
            MaxStatesPerUser = Math.Max(1000, channelsPerUser),
            FlushInterval = TimeSpan.FromSeconds(1),
        }, _store);
        _engine.Start();
    }

    public string Name => "engine";

    public void Fill(ulong userId, AckCommand[] commands, AckResult[] results)
    {
        var t = _engine.BulkAckAsync(userId, commands, results);
        if (!t.IsCompletedSuccessfully) t.AsTask().GetAwaiter().GetResult();
    }

    public void Ack(ulong userId, ulong channelId, ulong messageId)
    {
        var t = _engine.AckAsync(userId, new AckCommand { ChannelId = channelId, MessageId = messageId });
        if (!t.IsCompletedSuccessfully) t.AsTask().GetAwaiter().GetResult();
    }

    public void Mention(ulong channelId, ulong messageId, ulong[] userIds)
    {
        var t = _engine.AddMentionsAsync(channelId, messageId, userIds, default, null);
        if (!t.IsCompletedSuccessfully) t.AsTask().GetAwaiter().GetResult();
    }

    public long Get(ulong userId)
    {
        var snapshot = t_snapshot ??= new UserSnapshot();
        if (!_engine.TryRead(userId, default, snapshot))
        {
            _engine.LoadAsync(userId).AsTask().GetAwaiter().GetResult();
            return 0;
        }
        return snapshot.States.Length;
    }

    public ValueTask DisposeAsync() => _engine.DisposeAsync();
}

/// <summary>The design the engine replaces: a dictionary of users, each a dictionary of state objects.</summary>
internal sealed class ClassesPopulation : IPopulation
{
    private readonly DictionaryUserCache _users = new();

    public string Name => "classes";

    public void Fill(ulong userId, AckCommand[] commands, AckResult[] results) =>
        _users.GetOrAdd(userId).BulkAck(commands, results);

    public void Ack(ulong userId, ulong channelId, ulong messageId) => _users.GetOrAdd(userId).Ack(channelId, messageId);

    public void Mention(ulong channelId, ulong messageId, ulong[] userIds)
    {
        foreach (ulong u in userIds) _users.GetOrAdd(u).AddMention(channelId, messageId);
    }

    public long Get(ulong userId) => _users.GetOrAdd(userId).Snapshot(out _).Count;

    public ValueTask DisposeAsync() => default;
}
