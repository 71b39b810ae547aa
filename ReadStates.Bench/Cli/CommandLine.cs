using System.Globalization;

namespace ReadStates.Bench.Cli;

/// <summary>One option of a subcommand: its name (without dashes), help text, default, and whether it is a flag.</summary>
internal sealed record OptionSpec(string Name, string Help, string? Default = null, bool IsFlag = false);

/// <summary>A subcommand: its options, and the code that runs it with the parsed arguments.</summary>
internal sealed class CommandSpec(string name, string summary, IReadOnlyList<OptionSpec> options, Func<ParsedArgs, Task<int>> run,
    string? passThroughHelp = null)
{
    public string Name { get; } = name;
    public string Summary { get; } = summary;
    public IReadOnlyList<OptionSpec> Options { get; } = options;
    public Func<ParsedArgs, Task<int>> Run { get; } = run;
    /// <summary>When set, arguments after <c>--</c> are kept verbatim (handed to BenchmarkDotNet).</summary>
    public string? PassThroughHelp { get; } = passThroughHelp;

    public void PrintHelp(TextWriter w)
    {
        w.WriteLine($"Usage: ReadStates.Bench {Name} [options]{(PassThroughHelp is null ? "" : " [-- <extra arguments>]")}");
        w.WriteLine();
        w.WriteLine(Summary);
        w.WriteLine();
        w.WriteLine("Options:");
        int width = Options.Max(o => o.Name.Length + (o.IsFlag ? 0 : 8)) + 4;
        foreach (var o in Options)
        {
            string left = o.IsFlag ? $"--{o.Name}" : $"--{o.Name} <value>";
            string def = o.Default is null ? "" : $" (default: {o.Default})";
            w.WriteLine($"  {left.PadRight(width)}{o.Help}{def}");
        }
        w.WriteLine($"  {"--help".PadRight(width)}Show this help.");
        if (PassThroughHelp is not null) w.WriteLine($"{Environment.NewLine}After --: {PassThroughHelp}");
    }
}

internal sealed class UsageException(string message) : Exception(message);

/// <summary>Parsed options with typed getters; every value falls back to the option's declared default.</summary>
internal sealed class ParsedArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly CommandSpec _command;

    private ParsedArgs(CommandSpec command) => _command = command;

    public IReadOnlyList<string> PassThrough { get; private set; } = [];
    public CommandSpec Command => _command;

    public static ParsedArgs Parse(CommandSpec command, IReadOnlyList<string> args)
    {
        var parsed = new ParsedArgs(command);
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                if (command.PassThroughHelp is null) throw new UsageException($"'{command.Name}' takes no extra arguments after --.");
                parsed.PassThrough = args.Skip(i + 1).ToArray();
                break;
            }
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"Unexpected argument '{a}'.");
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            var spec = command.Options.FirstOrDefault(o => o.Name == name)
                ?? throw new UsageException($"Unknown option --{name} for '{command.Name}' (see --help).");
            if (spec.IsFlag)
            {
                parsed._values[name] = inline ?? "true";
                continue;
            }
            if (inline is null)
            {
                if (i + 1 >= args.Count) throw new UsageException($"--{name} needs a value.");
                inline = args[++i];
            }
            parsed._values[name] = inline;
        }
        return parsed;
    }

    private string? Raw(string name)
    {
        if (_values.TryGetValue(name, out var v)) return v;
        var spec = _command.Options.FirstOrDefault(o => o.Name == name) ?? throw new InvalidOperationException($"Option --{name} is not declared.");
        return spec.Default;
    }

    public bool IsSet(string name) => _values.ContainsKey(name);

    public string? String(string name) => Raw(name);

    public string RequiredString(string name) => Raw(name) ?? throw new UsageException($"--{name} is required.");

    public bool Flag(string name) => Raw(name) is { } v && v != "false";

    public long Long(string name) => ParseCount(RequiredString(name), name);

    public int Int(string name) => checked((int)Long(name));

    public double Double(string name) =>
        double.TryParse(RequiredString(name), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d
            : throw new UsageException($"--{name}: '{Raw(name)}' is not a number.");

    public TimeSpan Duration(string name) => ParseDuration(RequiredString(name), name);

    public IReadOnlyList<double> Doubles(string name) =>
        RequiredString(name).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d
                : throw new UsageException($"--{name}: '{s}' is not a number.")).ToArray();

    /// <summary>Accepts plain integers and k/m/g suffixes (10m = 10,000,000) and underscores.</summary>
    public static long ParseCount(string text, string name)
    {
        string t = text.Replace("_", "", StringComparison.Ordinal).Trim().ToLowerInvariant();
        long mult = 1;
        if (t.EndsWith('k')) { mult = 1_000; t = t[..^1]; }
        else if (t.EndsWith('m')) { mult = 1_000_000; t = t[..^1]; }
        else if (t.EndsWith('g')) { mult = 1_000_000_000; t = t[..^1]; }
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d >= 0)
            return checked((long)Math.Round(d * mult));
        throw new UsageException($"--{name}: '{text}' is not a count (e.g. 1000, 100k, 10m).");
    }

    /// <summary>Accepts 500ms, 10s, 2m, 1h, or plain seconds.</summary>
    public static TimeSpan ParseDuration(string text, string name)
    {
        string t = text.Trim().ToLowerInvariant();
        double unit = 1;
        if (t.EndsWith("ms", StringComparison.Ordinal)) { unit = 0.001; t = t[..^2]; }
        else if (t.EndsWith('s')) { t = t[..^1]; }
        else if (t.EndsWith('m')) { unit = 60; t = t[..^1]; }
        else if (t.EndsWith('h')) { unit = 3600; t = t[..^1]; }
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d >= 0)
            return TimeSpan.FromSeconds(d * unit);
        throw new UsageException($"--{name}: '{text}' is not a duration (e.g. 500ms, 10s, 2m).");
    }
}
