using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace ReadStates.Hosting;

/// <summary>
/// Rejects top-level configuration sections nobody reads, so a typo (<c>Engin:FlushInterval</c>) stops the
/// start instead of being ignored. Keys inside our own sections are checked by the binder
/// (<c>ErrorOnUnknownConfiguration</c>); this covers the level above.
/// <para>
/// Every source is checked except the process environment, which holds much that is not ours (PATH,
/// HOME, …): there only variables that name a section (<c>Section__Key</c>) are checked, and variables of
/// the framework's own prefixes (<c>ASPNETCORE_</c>, <c>DOTNET_</c>) never are.
/// </para>
/// </summary>
internal static class ConfigurationSections
{
    /// <summary>
    /// Sections the framework reads. A section of our own is known once <c>ReadStatesHost</c> binds it;
    /// a new component that reads a section without binding it adds the name here.
    /// </summary>
    private static readonly string[] Framework =
    [
        "Logging", "Kestrel", "AllowedHosts", "HostFiltering",
        WebHostDefaults.ServerUrlsKey, WebHostDefaults.HttpPortsKey, WebHostDefaults.HttpsPortsKey, "https_port",
        WebHostDefaults.EnvironmentKey, WebHostDefaults.ApplicationKey, WebHostDefaults.ContentRootKey, WebHostDefaults.WebRootKey,
        WebHostDefaults.ShutdownTimeoutKey, WebHostDefaults.DetailedErrorsKey, WebHostDefaults.CaptureStartupErrorsKey,
        WebHostDefaults.PreventHostingStartupKey, WebHostDefaults.HostingStartupAssembliesKey, WebHostDefaults.HostingStartupExcludeAssembliesKey,
        WebHostDefaults.SuppressStatusMessagesKey, WebHostDefaults.StaticWebAssetsKey, WebHostDefaults.PreferHostingUrlsKey,
    ];

    private static readonly string[] FrameworkPrefixes = ["ASPNETCORE_", "DOTNET_"];

    /// <summary>The problems: one line per unknown section, naming where it came from; empty when none.</summary>
    public static IReadOnlyList<string> FindUnknown(IConfigurationRoot config, IReadOnlyCollection<string> ours)
    {
        var known = new HashSet<string>(Framework.Concat(ours), StringComparer.OrdinalIgnoreCase);
        var problems = new List<string>();
        var reported = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in config.Providers)
        {
            bool environment = provider is EnvironmentVariablesConfigurationProvider;
            string prefix = environment ? EnvironmentPrefixOf(provider) : "";
            // Environment providers with the framework's own prefixes are the host's business.
            if (environment && FrameworkPrefixes.Any(p => prefix.StartsWith(p, StringComparison.OrdinalIgnoreCase))) continue;
            bool unprefixedEnvironment = environment && prefix.Length == 0;
            foreach (string key in provider.GetChildKeys([], parentPath: null).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                if (key.Length == 0 || known.Contains(key)) continue;
                if (unprefixedEnvironment)
                {
                    // PATH, HOME and the like are plain variables; only Section__Key names a setting.
                    if (!provider.GetChildKeys([], key).Any()) continue;
                    if (key.Equals(ReadStatesHost.EnvironmentPrefix.TrimEnd('_'), StringComparison.OrdinalIgnoreCase)) continue; // read through the prefixed provider
                    if (FrameworkPrefixes.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase))) continue;
                }
                if (!reported.Add(key)) continue;
                problems.Add($"Unknown configuration section '{key}' (from {Describe(provider, prefix)}); known sections: {string.Join(", ", ours)} and the framework's ({string.Join(", ", Framework.Take(4))}, …).");
            }
        }
        return problems;
    }

    private static string EnvironmentPrefixOf(IConfigurationProvider provider)
    {
        // The provider keeps its prefix private; its ToString says "EnvironmentVariablesConfigurationProvider Prefix: 'X'".
        string text = provider.ToString() ?? "";
        int at = text.IndexOf("Prefix: '", StringComparison.Ordinal);
        if (at < 0) return "";
        at += "Prefix: '".Length;
        int end = text.IndexOf('\'', at);
        return end > at ? text[at..end] : "";
    }

    private static string Describe(IConfigurationProvider provider, string prefix) => provider switch
    {
        EnvironmentVariablesConfigurationProvider => prefix.Length > 0 ? $"environment variables {prefix}*" : "environment variables",
        Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider json => json.Source.Path ?? "a JSON file",
        Microsoft.Extensions.Configuration.CommandLine.CommandLineConfigurationProvider => "the command line",
        _ => provider.GetType().Name,
    };
}

/// <summary>A top-level configuration section the service reads; registered in DI by whoever reads it.</summary>
internal sealed record ConfigurationSectionName(string Name);
