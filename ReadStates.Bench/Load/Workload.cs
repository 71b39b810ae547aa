using System.Diagnostics;
using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Load;

internal enum OpKind : byte { Ack, BulkAck, Mention, Get }

internal static class OpKinds
{
    public const int Count = 4;
    /// <summary>The names used by --mix, the reports and the JSON.</summary>
    public static string Name(OpKind k) => k switch { OpKind.Ack => "ack", OpKind.BulkAck => "bulk", OpKind.Mention => "mention", _ => "get" };
}

/// <summary>One operation to send: the user, the channel(s), the message id, and for mentions the users.</summary>
internal sealed class Op
{
    public OpKind Kind;
    public ulong User;
    public ulong Channel;
    public ulong Message;
    public ulong[] Channels = [];
    public ulong[] Users = [];
}

/// <summary>
/// The workload both targets see: Zipf-skewed users (hot users first, scattered over the id space),
/// guilds of <see cref="GuildSize"/> members sharing their channels, and an op mix.
/// </summary>
internal sealed class Workload
{
    public const int GuildSize = 1000;
    private const ulong ChannelBase = 0x0100_0000_0000_0000UL;

    private readonly ZipfSampler _zipf;
    private readonly long _stride;
    private readonly int[] _mixCumulative = new int[4];

    public Workload(long users, int channelsPerUser, double zipf, string mix, int bulkSize, int fanOut, int getChannels = 0)
    {
        if (users < 1 || channelsPerUser < 1) throw new UsageException("--users and --channels must be positive.");
        if (zipf <= 0) throw new UsageException("--zipf must be positive.");
        if (bulkSize < 1 || fanOut < 1) throw new UsageException("--bulk-size and --fanout must be positive.");
        if (getChannels < 0) throw new UsageException("--get-channels must be 0 (all) or positive.");
        GetChannels = Math.Min(getChannels, channelsPerUser);
        Users = users;
        ChannelsPerUser = channelsPerUser;
        Zipf = zipf;
        BulkSize = Math.Min(bulkSize, channelsPerUser);
        FanOut = fanOut;
        Mix = mix;
        _zipf = new ZipfSampler(users, zipf);
        // A stride coprime with N scatters ranks over the id space, so hot users are not neighbours.
        _stride = 2_654_435_761L % users;
        while (_stride < 1 || Gcd(_stride, users) != 1) _stride = (_stride + 1) % users;
        var weights = ParseMix(mix);
        int acc = 0;
        for (int i = 0; i < 4; i++) _mixCumulative[i] = acc += weights[i];
        if (acc == 0) throw new UsageException("--mix must give at least one operation a positive weight.");
    }

    public long Users { get; }
    public int ChannelsPerUser { get; }
    public double Zipf { get; }
    public int BulkSize { get; }
    public int FanOut { get; }
    /// <summary>Channels listed per get; 0 = all of the user's states.</summary>
    public int GetChannels { get; }
    public string Mix { get; }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    private static int[] ParseMix(string mix)
    {
        var w = new int[4];
        foreach (var part in mix.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=');
            if (kv.Length != 2 || !int.TryParse(kv[1], out int v) || v < 0) throw new UsageException($"--mix: '{part}' is not name=weight.");
            int i = kv[0] switch
            {
                "ack" => 0,
                "bulk" => 1,
                "mention" => 2,
                "get" => 3,
                _ => throw new UsageException($"--mix: unknown operation '{kv[0]}' (ack, bulk, mention, get)."),
            };
            w[i] = v;
        }
        return w;
    }

    public ulong UserOfRank(long rank) => 1 + (ulong)((UInt128)(ulong)(rank - 1) * (ulong)_stride % (ulong)Users);

    public ulong NextUser(Random rng) => UserOfRank(_zipf.Sample(rng));

    public ulong ChannelOf(ulong user, int index) => ChannelBase + (user - 1) / GuildSize * 4096 + (ulong)index;

    /// <summary>Time-ordered like snowflakes; the low bits keep the ids of different workers apart.</summary>
    public static ulong NextMessage(int worker) => ((ulong)(Stopwatch.GetTimestamp() & 0x00FF_FFFF_FFFF_FFFF) << 8) | (byte)worker;

    public void Next(Random rng, int worker, Op op)
    {
        int pick = rng.Next(_mixCumulative[3]);
        op.Kind = pick < _mixCumulative[0] ? OpKind.Ack : pick < _mixCumulative[1] ? OpKind.BulkAck : pick < _mixCumulative[2] ? OpKind.Mention : OpKind.Get;
        op.User = NextUser(rng);
        op.Message = NextMessage(worker);
        op.Channel = ChannelOf(op.User, rng.Next(ChannelsPerUser));
        switch (op.Kind)
        {
            case OpKind.BulkAck:
                if (op.Channels.Length != BulkSize) op.Channels = new ulong[BulkSize];
                int first = rng.Next(ChannelsPerUser - BulkSize + 1);
                for (int i = 0; i < BulkSize; i++) op.Channels[i] = ChannelOf(op.User, first + i);
                break;
            case OpKind.Get when GetChannels > 0:
                if (op.Channels.Length != GetChannels) op.Channels = new ulong[GetChannels];
                int from = rng.Next(ChannelsPerUser - GetChannels + 1);
                for (int i = 0; i < GetChannels; i++) op.Channels[i] = ChannelOf(op.User, from + i);
                break;
            case OpKind.Mention:
                // Members of the author's guild, drawn uniformly.
                if (op.Users.Length != FanOut) op.Users = new ulong[FanOut];
                ulong guildStart = (op.User - 1) / GuildSize * GuildSize;
                long members = Math.Min(GuildSize, Users - (long)guildStart);
                for (int i = 0; i < FanOut; i++) op.Users[i] = guildStart + 1 + (ulong)rng.NextInt64(members);
                break;
        }
    }

    /// <summary>How many read states the operation asks to change: what "updates per second" counts.</summary>
    public int UpdatesOf(Op op) => op.Kind switch { OpKind.Ack => 1, OpKind.BulkAck => op.Channels.Length, OpKind.Mention => op.Users.Length, _ => 0 };

    public static Workload FromArgs(ParsedArgs a) =>
        new(a.Long("users"), a.Int("channels"), a.Double("zipf"), a.RequiredString("mix"), a.Int("bulk-size"), a.Int("fanout"), a.Int("get-channels"));
}
