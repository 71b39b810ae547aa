using Microsoft.Extensions.Logging.Abstractions;
using ReadStates.Core;
using ReadStates.Core.Storage;
using ReadStates.Storage.Scylla;
using ReadStates.Tests.Cql.Server;

namespace ReadStates.Tests.Scylla;

internal static class ScyllaTestSupport
{
    public static ScyllaOptions Options(CqlTestServer server, Action<ScyllaOptions>? configure = null)
    {
        var options = new ScyllaOptions
        {
            ContactPoints = [server.Address.ToString()],
            Port = server.Port,
            ReplicationFactor = 1,
            RequestTimeout = TimeSpan.FromSeconds(15),
            ConnectTimeout = TimeSpan.FromSeconds(15),
        };
        configure?.Invoke(options);
        return options;
    }

    public static async Task<ScyllaStore> CreateAsync(CqlTestServer server, Action<ScyllaOptions>? configure = null)
        => await ScyllaStore.CreateAsync(Options(server, configure), NullLogger.Instance, Timeout());

    public static CancellationToken Timeout(int seconds = 60) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    public static ReadState State(ulong channel, ulong version, ulong lastMessage = 0, int mentions = 0, ReadStateType type = ReadStateType.Channel,
        ulong parent = 0, ReadStateFlags flags = ReadStateFlags.None, long pin = 0, int viewed = 0) => new()
    {
        ChannelId = channel,
        LastMessageId = lastMessage,
        MentionCount = mentions,
        Type = type,
        ParentId = parent,
        Flags = flags,
        LastPinTimestamp = pin,
        LastViewed = viewed,
        Version = version,
    };

    public static ReadState Deleted(ulong channel, ulong version)
    {
        var s = State(channel, version);
        s.Flags = ReadStateFlags.Deleted;
        return s;
    }

    public static async Task<StateBatch> LoadAsync(IReadStateStore store, ulong userId)
    {
        var batch = new StateBatch();
        await store.LoadUserAsync(userId, batch, Timeout());
        return batch;
    }

    /// <summary>A user with <paramref name="count"/> states whose fields derive from the channel id, so a load can be checked exactly.</summary>
    public static void AddUser(StateBatch batch, ulong userId, int count, ulong version, ulong firstChannel = 1000)
    {
        batch.BeginUser(userId, version);
        for (int i = 0; i < count; i++)
        {
            ulong channel = firstChannel + (ulong)i;
            ulong[] mentions = [.. Enumerable.Range(1, i % 4).Select(m => channel * 10 + (ulong)m)];
            batch.AddState(State(channel, version, lastMessage: channel * 7, mentions: mentions.Length, parent: userId, viewed: i), 0, 0, mentions);
        }
    }

    public static void AssertUser(StateBatch loaded, ulong userId, int count, ulong version, ulong firstChannel = 1000)
    {
        var user = Assert.Single(loaded.Users.ToArray());
        Assert.Equal(userId, user.UserId);
        Assert.Equal(version, user.Version);
        Assert.Equal(count, user.StateCount);
        var states = loaded.StatesOf(user);
        for (int i = 0; i < count; i++)
        {
            ulong channel = firstChannel + (ulong)i;
            Assert.Equal(channel, states[i].State.ChannelId);
            Assert.Equal(channel * 7, states[i].State.LastMessageId);
            Assert.Equal(i, states[i].State.LastViewed);
            Assert.Equal(Enumerable.Range(1, i % 4).Select(m => channel * 10 + (ulong)m).ToArray(), loaded.MentionsOf(states[i]).ToArray());
        }
    }
}
