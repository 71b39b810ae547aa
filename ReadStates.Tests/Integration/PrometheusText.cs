using System.Globalization;
using System.Text;

namespace ReadStates.Tests.Integration;

/// <summary>
/// A strict reader of the Prometheus text exposition format (0.0.4): families with their # TYPE, and
/// samples with labels. Throws on a malformed line, so a test fails on output scrapers would refuse.
/// </summary>
internal sealed class PrometheusText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
    {
        public string Key => Name + "{" + string.Join(",", Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
    }

    public Dictionary<string, string> Types { get; } = new(StringComparer.Ordinal);
    public List<Sample> Samples { get; } = [];

    public static PrometheusText Parse(string body)
    {
        var text = new PrometheusText();
        foreach (var raw in body.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) continue;
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line["# TYPE ".Length..].Split(' ');
                Assert.True(parts.Length == 2, $"bad TYPE line: {line}");
                Assert.True(text.Types.TryAdd(parts[0], parts[1]), $"family {parts[0]} declared twice");
                continue;
            }
            if (line[0] == '#') continue; // HELP, EOF, comments
            text.Samples.Add(ParseSample(line));
        }
        return text;
    }

    private static Sample ParseSample(string line)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ') i++;
        string name = line[..i];
        Assert.Matches("^[a-zA-Z_:][a-zA-Z0-9_:]*$", name);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int eq = line.IndexOf('=', i);
                string key = line[i..eq];
                Assert.Matches("^[a-zA-Z_][a-zA-Z0-9_]*$", key);
                Assert.Equal('"', line[eq + 1]);
                var value = new StringBuilder();
                int j = eq + 2;
                for (; line[j] != '"'; j++)
                {
                    if (line[j] == '\\') j++;
                    value.Append(line[j]);
                }
                labels.Add(key, value.ToString());
                i = j + 1;
                if (line[i] == ',') i++;
            }
            i++;
        }
        var rest = line[i..].Trim().Split(' ');
        Assert.InRange(rest.Length, 1, 2); // value [timestamp]
        double v = rest[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, v);
    }

    /// <summary>The family a sample belongs to (a histogram's _bucket/_sum/_count are the histogram's).</summary>
    public string FamilyOf(Sample sample)
    {
        if (Types.ContainsKey(sample.Name)) return sample.Name;
        foreach (var suffix in new[] { "_bucket", "_sum", "_count", "_total", "_created" })
        {
            if (sample.Name.EndsWith(suffix, StringComparison.Ordinal) && Types.ContainsKey(sample.Name[..^suffix.Length]))
                return sample.Name[..^suffix.Length];
        }
        throw new Xunit.Sdk.XunitException($"sample {sample.Name} has no # TYPE");
    }

    public double Value(string name, params (string Key, string Value)[] labels) =>
        Find(name, labels).Sum(s => s.Value);

    public IEnumerable<Sample> Find(string name, params (string Key, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value));
}
