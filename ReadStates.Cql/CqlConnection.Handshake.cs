using Microsoft.Extensions.Logging;

namespace ReadStates.Cql;

internal sealed partial class CqlConnection
{
    private const string PasswordAuthenticator = "org.apache.cassandra.auth.PasswordAuthenticator";

    /// <summary>OPTIONS → SUPPORTED, STARTUP → READY or AUTHENTICATE → AUTH_RESPONSE → AUTH_SUCCESS.</summary>
    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var timeout = _settings.ConnectTimeout;
        using (var options = CqlRequests.Options())
        {
            using var supported = await SendAsync(options, timeout, cancellationToken).ConfigureAwait(false);
            supported.ThrowIfError();
            if (supported.Opcode != CqlOpcode.Supported) CqlThrow.Protocol($"expected SUPPORTED, got {supported.Opcode}.");
            var r = new CqlReader(supported.Body);
            ServerInfo = new CqlServerInfo(r.ReadStringMultimap());
        }

        bool compress = _settings.Compression && ServerInfo.SupportsLz4;
        KeyValuePair<string, string>[] startupOptions = compress
            ? [new("COMPRESSION", "lz4"), new("CQL_VERSION", "3.0.0")]
            : [new("CQL_VERSION", "3.0.0")];
        CqlResponse reply;
        using (var startup = CqlRequests.Startup(startupOptions))
        {
            reply = await SendAsync(startup, timeout, cancellationToken).ConfigureAwait(false);
        }
        using (reply)
        {
            reply.ThrowIfError();
            _compress = compress;
            if (reply.Opcode == CqlOpcode.Ready) return;
            if (reply.Opcode != CqlOpcode.Authenticate) CqlThrow.Protocol($"expected READY or AUTHENTICATE, got {reply.Opcode}.");
            var r = new CqlReader(reply.Body);
            string authenticator = r.ReadString();
            if (_settings.Username is null || _settings.Password is null)
                throw new CqlException($"{EndPoint} requires authentication ({authenticator}) but no credentials are configured.", isTransient: false) { MayHaveBeenApplied = false };
            if (!authenticator.EndsWith("PasswordAuthenticator", StringComparison.Ordinal) && authenticator != PasswordAuthenticator)
                CqlLog.UnknownAuthenticator(_logger, EndPoint, authenticator);
        }

        byte[] token = CqlRequests.PlainToken(_settings.Username, _settings.Password);
        using var authFrame = CqlRequests.AuthResponse(token);
        using var authReply = await SendAsync(authFrame, timeout, cancellationToken).ConfigureAwait(false);
        if (authReply.Opcode == CqlOpcode.Error)
        {
            var error = CqlServerException.Decode(authReply.Body);
            throw new CqlException($"Authentication to {EndPoint} failed: {error.ServerMessage}", isTransient: false, error) { MayHaveBeenApplied = false };
        }
        if (authReply.Opcode != CqlOpcode.AuthSuccess) CqlThrow.Protocol($"expected AUTH_SUCCESS, got {authReply.Opcode}.");
    }
}

internal static partial class CqlLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "CQL connection to {EndPoint} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, System.Net.IPEndPoint endPoint, string reason);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "CQL server {EndPoint} warns: {Warning}")]
    public static partial void ServerWarning(ILogger logger, System.Net.IPEndPoint endPoint, string warning);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "CQL server {EndPoint} asks for authenticator {Authenticator}; answering with SASL PLAIN")]
    public static partial void UnknownAuthenticator(ILogger logger, System.Net.IPEndPoint endPoint, string authenticator);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "CQL host {EndPoint} is down: {Reason}; next attempt in {Delay}")]
    public static partial void HostDown(ILogger logger, System.Net.IPEndPoint endPoint, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Information, Message = "CQL shard-aware port {Port} of {Address} unreachable; using the regular port")]
    public static partial void ShardAwarePortUnreachable(ILogger logger, System.Net.IPAddress address, int port);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Information, Message = "CQL topology: {Hosts} hosts, {Tokens} tokens, local datacenter {Datacenter}")]
    public static partial void Topology(ILogger logger, int hosts, int tokens, string? datacenter);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Information, Message = "CQL statement re-prepared on {EndPoint} after UNPREPARED")]
    public static partial void Reprepared(ILogger logger, System.Net.IPEndPoint endPoint);

    [LoggerMessage(EventId = 4009, Level = LogLevel.Warning, Message = "CQL topology refresh failed: {Reason}")]
    public static partial void TopologyRefreshFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "CQL request to {EndPoint} failed (attempt {Attempt}), retrying: {Reason}")]
    public static partial void Retrying(ILogger logger, System.Net.IPEndPoint endPoint, int attempt, string reason);
}
