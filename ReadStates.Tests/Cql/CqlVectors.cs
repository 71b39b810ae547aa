using System.Text.Json;

namespace ReadStates.Tests.Cql;

/// <summary>The committed vectors.json written by scripts/cql/gen_vectors.py (DataStax Python driver).</summary>
internal static class CqlVectors
{
    private static readonly Lazy<JsonDocument> s_doc = new(() => JsonDocument.Parse(File.ReadAllText(FindRepoFile("ReadStates.Tests/Cql/vectors.json"))));

    public static JsonElement Root => s_doc.Value.RootElement;

    public static JsonElement Frame(string name)
    {
        foreach (var f in Root.GetProperty("frames").EnumerateArray())
            if (f.GetProperty("name").GetString() == name) return f;
        throw new KeyNotFoundException(name);
    }

    /// <summary>Walks up from the test binaries to the repository root to find a committed file.</summary>
    public static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal).Replace("|", "", StringComparison.Ordinal));
}
