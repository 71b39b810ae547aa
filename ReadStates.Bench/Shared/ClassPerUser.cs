using System.Collections.Concurrent;
using BitFaster.Caching.Lru;
using Microsoft.Extensions.Caching.Memory;
using ReadStates.Core;
using ReadStates.Core.Storage;

namespace ReadStates.Bench.Shared;

/// <summary>
/// The design a user would write instead of the engine: one object per read state, a dictionary of them
/// per user behind a lock, and the users in an off-the-shelf cache. Same semantics as the engine:
/// forward-only ack that drops mentions at or below it, idempotent mention set.
/// </summary>
public sealed class StateObject
{
    public ulong ChannelId;
    public ulong LastMessageId;
    public ulong ParentId;
    public long LastPinTimestamp;
    public ulong Version;
    public int LastViewed;
    public ReadStateType Type;
    public ReadStateFlags Flags;
    public HashSet<ulong>? Mentions;

    public int MentionCount => Mentions?.Count ?? 0;

    public ReadState Snapshot() => new()
    {
        ChannelId = ChannelId,
        LastMessageId = LastMessageId,
        ParentId = ParentId,
        LastPinTimestamp = LastPinTimestamp,
        Version = Version,
        MentionCount = MentionCount,
        LastViewed = LastViewed,
        Type = Type,
        Flags = Flags,
    };
}

public sealed class UserObject
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ulong, StateObject> _states = [];
    private ulong _version;
    public ulong PersistedVersion;

    public bool IsDirty { get { lock (_gate) return _version > PersistedVersion; } }

    public int Count { get { lock (_gate) return _states.Count; } }

    private StateObject GetOrCreate(ulong channelId, ulong parentId)
    {
        if (!_states.TryGetValue(channelId, out var s))
        {
            s = new StateObject { ChannelId = channelId, ParentId = parentId };
            _states.Add(channelId, s);
        }
        return s;
    }

    public AckResult Ack(ulong channelId, ulong messageId, ulong parentId = 0)
    {
        lock (_gate)
        {
            var s = GetOrCreate(channelId, parentId);
            if (messageId < s.LastMessageId) return new AckResult { Applied = false, State = s.Snapshot() };
            if (messageId > s.LastMessageId)
            {
                s.LastMessageId = messageId;
                if (s.Mentions is { Count: > 0 }) DropUpTo(s.Mentions, messageId);
                s.Version = ++_version;
            }
            return new AckResult { Applied = true, State = s.Snapshot() };
        }
    }

    public void BulkAck(ReadOnlySpan<AckCommand> commands, Span<AckResult> results)
    {
        lock (_gate)
        {
            for (int i = 0; i < commands.Length; i++)
            {
                ref readonly var c = ref commands[i];
                var s = GetOrCreate(c.ChannelId, c.Attributes.ParentId ?? 0);
                if (c.MessageId < s.LastMessageId) { results[i] = new AckResult { Applied = false, State = s.Snapshot() }; continue; }
                if (c.MessageId > s.LastMessageId)
                {
                    s.LastMessageId = c.MessageId;
                    if (s.Mentions is { Count: > 0 }) DropUpTo(s.Mentions, c.MessageId);
                    s.Version = ++_version;
                }
                results[i] = new AckResult { Applied = true, State = s.Snapshot() };
            }
        }
    }

    // Separate so the closure is only allocated when there are mentions to drop.
    private static void DropUpTo(HashSet<ulong> mentions, ulong messageId) => mentions.RemoveWhere(id => id <= messageId);

    public bool AddMention(ulong channelId, ulong messageId, ulong parentId = 0)
    {
        lock (_gate)
        {
            var s = GetOrCreate(channelId, parentId);
            if (messageId <= s.LastMessageId) return false;
            if (!(s.Mentions ??= []).Add(messageId)) return false;
            s.Version = ++_version;
            return true;
        }
    }

    /// <summary>A consistent copy of every state, as a get handler must take before leaving the lock.</summary>
    public List<ReadState> Snapshot(out long totalMentions)
    {
        lock (_gate)
        {
            var list = new List<ReadState>(_states.Count);
            totalMentions = 0;
            foreach (var s in _states.Values)
            {
                list.Add(s.Snapshot());
                totalMentions += s.MentionCount;
            }
            list.Sort(static (a, b) => a.ChannelId.CompareTo(b.ChannelId));
            return list;
        }
    }

    public static UserObject FromBatch(StateBatch batch)
    {
        var user = new UserObject();
        if (batch.UserCount == 0) return user;
        var entry = batch.Users[0];
        user._version = user.PersistedVersion = entry.Version;
        foreach (ref readonly var st in batch.StatesOf(entry))
        {
            var s = st.State;
            user._states[s.ChannelId] = new StateObject
            {
                ChannelId = s.ChannelId, LastMessageId = s.LastMessageId, ParentId = s.ParentId, LastPinTimestamp = s.LastPinTimestamp,
                Version = s.Version, LastViewed = s.LastViewed, Type = s.Type, Flags = s.Flags,
            };
        }
        return user;
    }

    /// <summary>Appends the changed states to a write batch and returns the version written.</summary>
    public ulong AppendDirty(ulong userId, StateBatch batch)
    {
        lock (_gate)
        {
            batch.BeginUser(userId, _version);
            foreach (var s in _states.Values)
                if (s.Version > PersistedVersion) batch.AddState(s.Snapshot(), 0, 0, default);
            return _version;
        }
    }
}

/// <summary>The user cache behind the class-per-user design.</summary>
public interface IUserCache
{
    string Name { get; }
    UserObject GetOrAdd(ulong userId);
    bool TryGet(ulong userId, out UserObject user);
    void Set(ulong userId, UserObject user);
}

public sealed class DictionaryUserCache : IUserCache
{
    private readonly ConcurrentDictionary<ulong, UserObject> _users = new();
    public string Name => "ConcurrentDictionary";
    public UserObject GetOrAdd(ulong userId) => _users.GetOrAdd(userId, static _ => new UserObject());
    public bool TryGet(ulong userId, out UserObject user) => _users.TryGetValue(userId, out user!);
    public void Set(ulong userId, UserObject user) => _users[userId] = user;
}

public sealed class LruUserCache : IUserCache
{
    public LruUserCache(int capacityUsers) => Lru = new ConcurrentLru<ulong, UserObject>(capacityUsers);
    public ConcurrentLru<ulong, UserObject> Lru { get; }
    public string Name => "BitFaster.ConcurrentLru";
    public UserObject GetOrAdd(ulong userId) => Lru.GetOrAdd(userId, static _ => new UserObject());
    public bool TryGet(ulong userId, out UserObject user) => Lru.TryGet(userId, out user!);
    public void Set(ulong userId, UserObject user) => Lru.AddOrUpdate(userId, user);
}

public sealed class MemoryCacheUserCache : IUserCache, IDisposable
{
    private readonly MemoryCacheEntryOptions _entry;

    public MemoryCacheUserCache(long? sizeLimitUsers = null, PostEvictionDelegate? onEvicted = null)
    {
        Cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = sizeLimitUsers, CompactionPercentage = 0.05 });
        _entry = new MemoryCacheEntryOptions { Size = 1 };
        if (onEvicted is not null) _entry.RegisterPostEvictionCallback(onEvicted);
    }

    public MemoryCache Cache { get; }
    public string Name => "MemoryCache";

    public UserObject GetOrAdd(ulong userId)
    {
        if (Cache.TryGetValue(userId, out UserObject? user)) return user!;
        user = new UserObject();
        Cache.Set(userId, user, _entry);
        return user;
    }

    public bool TryGet(ulong userId, out UserObject user) => Cache.TryGetValue(userId, out user!);
    public void Set(ulong userId, UserObject user) => Cache.Set(userId, user, _entry);
    public void Dispose() => Cache.Dispose();
}
