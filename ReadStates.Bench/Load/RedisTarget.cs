using System.Globalization;
using StackExchange.Redis;

namespace ReadStates.Bench.Load;

/// <summary>
/// The same workload against a Redis-protocol server (Redis, Garnet): ack, mentions and get as Lua
/// scripts with the service's semantics (see Load/Lua). One multiplexer (one socket) per connection.
/// </summary>
internal sealed class RedisTarget(string target) : ILoadTarget
{
    private ConnectionMultiplexer[] _muxes = [];
    private IDatabase[] _dbs = [];
    private byte[] _ack = [], _mention = [], _get = [];

    public string Name => "redis-lua";
    public string Address => target;

    public async Task ConnectAsync(int connections, CancellationToken ct)
    {
        var uri = new Uri(target);
        string endpoint = $"{uri.Host}:{(uri.Port > 0 ? uri.Port : 6379)}";
        _muxes = new ConnectionMultiplexer[connections];
        _dbs = new IDatabase[connections];
        for (int i = 0; i < connections; i++)
        {
            var options = ConfigurationOptions.Parse(endpoint);
            options.AbortOnConnectFail = true;
            options.AllowAdmin = true;
            options.SyncTimeout = options.AsyncTimeout = 10_000;
            options.ClientName = $"readstates-bench-{i}";
            _muxes[i] = await ConnectionMultiplexer.ConnectAsync(options);
            _dbs[i] = _muxes[i].GetDatabase();
        }
        var server = _muxes[0].GetServer(_muxes[0].GetEndPoints()[0]);
        _ack = await server.ScriptLoadAsync(Script("ack.lua"));
        _mention = await server.ScriptLoadAsync(Script("mention.lua"));
        _get = await server.ScriptLoadAsync(Script("get.lua"));
    }

    /// <summary>The server's name and version, for the report.</summary>
    public string Describe()
    {
        var server = _muxes[0].GetServer(_muxes[0].GetEndPoints()[0]);
        try
        {
            var info = server.Info("server").SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
            if (info.TryGetValue("garnet_version", out var g)) return $"Garnet {g}";
            if (info.TryGetValue("redis_version", out var r)) return $"Redis {r}";
        }
        catch (RedisException) { }
        return $"{server.ServerType} {server.Version}";
    }

    private static string Script(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Load", "Lua", name));

    private static RedisValue Id(ulong id) => id.ToString("D20", CultureInfo.InvariantCulture);
    private static RedisKey StatesKey(ulong user) => $"rs:{{{user}}}";

    public async Task ExecuteAsync(int connection, Op op, CancellationToken ct)
    {
        var db = _dbs[connection];
        switch (op.Kind)
        {
            case OpKind.Ack:
                await db.ScriptEvaluateAsync(_ack, [StatesKey(op.User)], [op.User, Id(op.Channel), Id(op.Message)]);
                break;
            case OpKind.BulkAck:
                var args = new RedisValue[1 + 2 * op.Channels.Length];
                args[0] = op.User;
                for (int i = 0; i < op.Channels.Length; i++) { args[1 + 2 * i] = Id(op.Channels[i]); args[2 + 2 * i] = Id(op.Message); }
                await db.ScriptEvaluateAsync(_ack, [StatesKey(op.User)], args);
                break;
            case OpKind.Mention:
                var keys = new RedisKey[op.Users.Length];
                var values = new RedisValue[2 + op.Users.Length];
                values[0] = Id(op.Channel);
                values[1] = Id(op.Message);
                for (int i = 0; i < op.Users.Length; i++) { keys[i] = StatesKey(op.Users[i]); values[2 + i] = op.Users[i]; }
                await db.ScriptEvaluateAsync(_mention, keys, values);
                break;
            case OpKind.Get:
                var get = new RedisValue[1 + op.Channels.Length];
                get[0] = op.User;
                for (int i = 0; i < op.Channels.Length; i++) get[1 + i] = Id(op.Channels[i]);
                await db.ScriptEvaluateAsync(_get, [StatesKey(op.User)], get);
                break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var m in _muxes) await m.DisposeAsync();
    }
}
