using System.Globalization;
using System.Net;

namespace ReadStates.Cql;

public sealed partial class CqlSession
{
    private const string LocalQuery = "SELECT host_id, rpc_address, data_center, rack, tokens, cluster_name FROM system.local WHERE key='local'";
    // ScyllaDB has no system.peers_v2; peers gives the same facts (the port is the configured one).
    private const string PeersQuery = "SELECT peer, host_id, rpc_address, data_center, rack, tokens FROM system.peers";

    private readonly List<CqlHost> _retired = [];
    private readonly SemaphoreSlim _topologyLock = new(1, 1);

    public string? ClusterName { get; private set; }
    public string? LocalDatacenter { get; private set; }

    /// <summary>Reads system.local and system.peers through any reachable host and rebuilds the token ring.</summary>
    public async Task RefreshTopologyAsync(CancellationToken cancellationToken)
    {
        await _topologyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var known = Ring.Hosts;
            var candidates = new List<CqlHost>(known);
            if (candidates.Count == 0) candidates.AddRange(await ResolveContactPointsAsync(cancellationToken).ConfigureAwait(false));

            Exception? last = null;
            foreach (var control in candidates)
            {
                try
                {
                    var connection = await control.Pool.GetAsync(-1, cancellationToken).ConfigureAwait(false);
                    await ReadTopologyAsync(control, connection, candidates, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (CqlException ex) when (ex.IsTransient)
                {
                    last = ex;
                }
            }
            foreach (var c in candidates)
                if (!known.Contains(c)) await c.DisposeAsync().ConfigureAwait(false);
            throw new CqlException("No contact point is reachable: " + last?.Message, isTransient: true, last) { MayHaveBeenApplied = false };
        }
        finally
        {
            _topologyLock.Release();
        }
    }

    private async Task ReadTopologyAsync(CqlHost control, CqlConnection connection, List<CqlHost> candidates, CancellationToken cancellationToken)
    {
        var rows = new List<(IPEndPoint EndPoint, string? Dc, string? Rack, Guid HostId, long[] Tokens)>();
        using (var local = await QueryOnAsync(connection, LocalQuery, cancellationToken).ConfigureAwait(false))
        {
            if (!local.MoveNext()) CqlThrow.Protocol("system.local returned no row.");
            ClusterName = local.GetValue(local.IndexOf("cluster_name")) as string;
            rows.Add((control.EndPoint, local.GetString(local.IndexOf("data_center")), local.GetString(local.IndexOf("rack")),
                local.GetValue(local.IndexOf("host_id")) as Guid? ?? Guid.Empty, ParseTokens(local.GetValue(local.IndexOf("tokens")))));
        }
        using (var peers = await QueryOnAsync(connection, PeersQuery, cancellationToken).ConfigureAwait(false))
        {
            int rpc = peers.IndexOf("rpc_address"), peer = peers.IndexOf("peer");
            while (peers.MoveNext())
            {
                var address = peers.GetValue(rpc) as IPAddress;
                if (address is null || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) address = peers.GetValue(peer) as IPAddress;
                if (address is null) continue;
                rows.Add((new IPEndPoint(address, _options.Port), peers.GetString(peers.IndexOf("data_center")), peers.GetString(peers.IndexOf("rack")),
                    peers.GetValue(peers.IndexOf("host_id")) as Guid? ?? Guid.Empty, ParseTokens(peers.GetValue(peers.IndexOf("tokens")))));
            }
        }

        string? localDc = _options.LocalDatacenter ?? rows[0].Dc;
        LocalDatacenter = localDc;
        var hosts = new List<CqlHost>();
        foreach (var row in rows)
        {
            if (localDc is not null && row.Dc is not null && row.Dc != localDc) continue;
            var host = candidates.Find(h => h.EndPoint.Equals(row.EndPoint))
                ?? new CqlHost(row.EndPoint, row.Dc, row.Rack, row.HostId, row.Tokens, _options, _logger);
            host.Datacenter = row.Dc;
            host.Rack = row.Rack;
            host.HostId = row.HostId;
            host.Tokens = row.Tokens;
            if (!hosts.Contains(host)) hosts.Add(host);
        }
        if (hosts.Count == 0) throw new CqlException($"No host of datacenter '{localDc}' in the cluster.", isTransient: false);
        // Hosts retired by the previous refresh have had a whole interval to finish their requests.
        foreach (var old in _retired) _ = old.DisposeAsync();
        _retired.Clear();
        foreach (var c in candidates)
            if (!hosts.Contains(c)) _retired.Add(c);
        var ring = new TokenRing(hosts);
        Volatile.Write(ref _ring, ring);
        CqlLog.Topology(_logger, hosts.Count, ring.TokenCount, localDc);
    }

    /// <summary>
    /// Waits until every reachable host reports the same schema_version (after DDL), polling for at most
    /// <paramref name="timeout"/>; returns whether they agreed.
    /// </summary>
    public async Task<bool> WaitForSchemaAgreementAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            var versions = new HashSet<Guid>();
            foreach (var host in Ring.Hosts)
            {
                try
                {
                    var connection = await host.Pool.GetAsync(-1, cancellationToken).ConfigureAwait(false);
                    using var rows = await QueryOnAsync(connection, "SELECT schema_version FROM system.local WHERE key='local'", cancellationToken).ConfigureAwait(false);
                    if (rows.MoveNext() && rows.GetValue(0) is Guid v) versions.Add(v);
                }
                catch (CqlException ex) when (ex.IsTransient)
                {
                    // A host that is down does not vote.
                }
            }
            if (versions.Count <= 1) return true;
            if (Environment.TickCount64 >= deadline) return false;
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<CqlRowSet> QueryOnAsync(CqlConnection connection, string query, CancellationToken cancellationToken)
    {
        var parameters = new QueryParameters { Consistency = CqlConsistency.One };
        using var frame = CqlRequests.Query(query, parameters);
        var response = await connection.SendAsync(frame, _options.Connection.RequestTimeout, cancellationToken).ConfigureAwait(false);
        try
        {
            response.ThrowIfError();
            return CqlRowSet.FromResponse(ref response) ?? CqlThrow.Protocol<CqlRowSet>($"'{query}' returned no rows result.");
        }
        finally
        {
            response.Dispose();
        }
    }

    private static long[] ParseTokens(object? value)
    {
        if (value is not List<object?> list) return [];
        var tokens = new List<long>(list.Count);
        foreach (var item in list)
            if (item is string s && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long t)) tokens.Add(t);
        return [.. tokens];
    }

    private async Task<List<CqlHost>> ResolveContactPointsAsync(CancellationToken cancellationToken)
    {
        var hosts = new List<CqlHost>();
        foreach (string contact in _options.ContactPoints)
        {
            string name = contact;
            int port = _options.Port;
            int colon = contact.LastIndexOf(':');
            if (colon > 0 && contact.IndexOf(':', StringComparison.Ordinal) == colon && int.TryParse(contact.AsSpan(colon + 1), CultureInfo.InvariantCulture, out int p))
            {
                name = contact[..colon];
                port = p;
            }
            IPAddress[] addresses;
            if (IPAddress.TryParse(name, out var ip)) addresses = [ip];
            else
            {
                try
                {
                    addresses = await Dns.GetHostAddressesAsync(name, cancellationToken).ConfigureAwait(false);
                }
                catch (System.Net.Sockets.SocketException)
                {
                    continue;
                }
            }
            foreach (var a in addresses)
            {
                var ep = new IPEndPoint(a, port);
                if (!hosts.Exists(h => h.EndPoint.Equals(ep))) hosts.Add(new CqlHost(ep, null, null, Guid.Empty, [], _options, _logger));
            }
        }
        if (hosts.Count == 0) throw new CqlException("No contact point resolves to an address.", isTransient: false);
        return hosts;
    }
}
