namespace ReadStates.Bench.Load;

/// <summary>A service the load generator drives: ReadStates over gRPC, or a Redis-protocol server running Lua.</summary>
internal interface ILoadTarget : IAsyncDisposable
{
    string Name { get; }
    string Address { get; }
    Task ConnectAsync(int connections, CancellationToken ct);
    /// <summary>Sends one operation on the given connection; completes when the reply is in.</summary>
    Task ExecuteAsync(int connection, Op op, CancellationToken ct);
}

internal static class LoadTargets
{
    public static ILoadTarget Create(string target)
    {
        if (target.StartsWith("redis://", StringComparison.OrdinalIgnoreCase)) return new RedisTarget(target);
        if (target.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase)) return new GrpcTarget("http://" + target["grpc://".Length..]);
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) return new GrpcTarget(target);
        throw new Cli.UsageException($"--target must be http://host:port (ReadStates gRPC, h2c) or redis://host:port; got '{target}'.");
    }

    /// <summary>Only loopback: this tool must never send load anywhere else.</summary>
    public static void RequireLoopback(string target)
    {
        var uri = new Uri(target.Replace("grpc://", "http://", StringComparison.OrdinalIgnoreCase));
        bool loopback = uri.IsLoopback || (System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));
        if (!loopback) throw new Cli.UsageException($"Refusing to send load to {uri.Host}: only loopback targets (127.0.0.1, ::1, localhost) are allowed.");
    }
}
