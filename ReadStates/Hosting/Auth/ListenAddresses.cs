using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace ReadStates.Hosting.Auth;

/// <summary>Which configured listen addresses are reachable from other machines (anything but loopback).</summary>
internal static class ListenAddresses
{
    /// <summary>The gRPC addresses Kestrel will bind (from Urls / ASPNETCORE_URLS, HTTP(S)_PORTS, Kestrel:Endpoints).</summary>
    public static IReadOnlyList<string> Configured(IConfiguration config)
    {
        var urls = new List<string>();
        foreach (var url in (config[WebHostDefaults.ServerUrlsKey] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            urls.Add(url);
        foreach (var key in new[] { WebHostDefaults.HttpPortsKey, WebHostDefaults.HttpsPortsKey })
            foreach (var port in (config[key] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                urls.Add($"http://*:{port}"); // the framework binds these ports on every interface
        foreach (var endpoint in config.GetSection("Kestrel:Endpoints").GetChildren())
            if (endpoint["Url"] is { Length: > 0 } url) urls.Add(url);
        if (urls.Count == 0) urls.Add(ReadStatesHost.DefaultUrl);
        return urls;
    }

    /// <summary>True for <c>localhost</c> and literal loopback addresses; every other host (names, <c>*</c>, <c>0.0.0.0</c>) is exposed.</summary>
    public static bool IsLoopback(string url)
    {
        string host = HostOf(url);
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address);
    }

    public static bool IsLoopbackHost(string host) => IsLoopback("http://" + (host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host) + ":0");

    private static string HostOf(string url)
    {
        var s = url.AsSpan();
        int scheme = s.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0) s = s[(scheme + 3)..];
        int slash = s.IndexOf('/');
        if (slash >= 0) s = s[..slash];
        if (s.StartsWith("["))
        {
            int close = s.IndexOf(']');
            return close > 0 ? s[1..close].ToString() : s.ToString();
        }
        int colon = s.LastIndexOf(':');
        return (colon >= 0 ? s[..colon] : s).ToString();
    }
}
