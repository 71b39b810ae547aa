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
    public static ILoadTarget Create(string target, LoadOptions o)
    {
        Check(target);
        if (target.StartsWith("redis://", StringComparison.OrdinalIgnoreCase)) return new RedisTarget(target);
        string address = target.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase) ? "http://" + target["grpc://".Length..] : target;
        return o.Transport == Transport.Stream ? new GrpcStreamTarget(address, o.StreamInFlight) : new GrpcTarget(address);
    }

    /// <summary>The scheme and the loopback rule, checked with the other options before anything connects.</summary>
    public static void Check(string target)
    {
        if (!target.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) && !target.StartsWith("grpc://", StringComparison.OrdinalIgnoreCase)
            && !target.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            throw new Cli.UsageException($"--target must be http://host:port (ReadStates gRPC, h2c) or redis://host:port; got '{target}'.");
        if (!Uri.TryCreate(target.Replace("grpc://", "http://", StringComparison.OrdinalIgnoreCase), UriKind.Absolute, out _))
            throw new Cli.UsageException($"'{target}' is not a valid address (host:port).");
        RequireLoopback(target);
    }

    /// <summary>
    /// Fails fast, with a message that says what to do, when nothing listens at the target: the gRPC
    /// channel's own connect retries forever with backoff, so without this a typo in the port hangs.
    /// </summary>
    public static async Task ProbeAsync(string target, TimeSpan timeout, CancellationToken ct)
    {
        var uri = new Uri(target.Replace("grpc://", "http://", StringComparison.OrdinalIgnoreCase));
        int port = uri.Port > 0 ? uri.Port : uri.Scheme == "redis" ? 6379 : 80;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(uri.Host, port, cts.Token);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new Cli.UsageException($"Nothing listens at {uri.Host}:{port} ({e.SocketErrorCode}). Start the server first, or point --target/--peer at it.");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new Cli.UsageException($"No answer from {uri.Host}:{port} within {timeout.TotalSeconds:0.#} s (--connect-timeout).");
        }
    }

    /// <summary>Only loopback: this tool must never send load anywhere else.</summary>
    public static void RequireLoopback(string target)
    {
        var uri = new Uri(target.Replace("grpc://", "http://", StringComparison.OrdinalIgnoreCase));
        bool loopback = uri.IsLoopback || (System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));
        if (!loopback) throw new Cli.UsageException($"Refusing to send load to {uri.Host}: only loopback targets (127.0.0.1, ::1, localhost) are allowed.");
    }
}
