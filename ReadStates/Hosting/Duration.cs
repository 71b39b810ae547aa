using System.Globalization;

namespace ReadStates.Hosting;

/// <summary>
/// The one syntax for durations in configuration: a number with a unit (<c>500ms</c>, <c>5s</c>,
/// <c>1.5m</c>, <c>2h</c>, <c>1d</c>) or a clock value (<c>hh:mm:ss[.fff]</c>, <c>d.hh:mm:ss</c>).
/// A bare number is refused: .NET would read <c>5</c> as five <em>days</em>, which no one means.
/// </summary>
internal static class Duration
{
    public const string Syntax = "500ms, 5s, 1m, 2h or hh:mm:ss";

    // Far beyond any bound an option sets, and small enough that no unit overflows a TimeSpan.
    private const double MaxMilliseconds = 1e12;

    public static bool TryParse(string? text, out TimeSpan value, out string error)
    {
        value = default;
        var s = (text ?? "").Trim();
        if (s.Length == 0)
        {
            error = $"is empty; write a duration such as {Syntax}";
            return false;
        }
        if (s[0] == '-')
        {
            error = $"'{s}' is negative; a duration is {Syntax}";
            return false;
        }
        if (s.Contains(':', StringComparison.Ordinal))
        {
            if (TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out value))
            {
                error = "";
                return true;
            }
            error = $"'{s}' is not a clock duration (hh:mm:ss or d.hh:mm:ss); or write {Syntax}";
            return false;
        }

        int unitAt = 0;
        while (unitAt < s.Length && (char.IsAsciiDigit(s[unitAt]) || s[unitAt] == '.')) unitAt++;
        var number = s.AsSpan(0, unitAt);
        var unit = s.AsSpan(unitAt).Trim();
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double amount))
        {
            error = $"'{s}' is not a duration; write {Syntax}";
            return false;
        }
        if (unit.IsEmpty)
        {
            error = $"'{s}' has no unit; write {s}s for seconds, {s}ms, {s}m or {s}h (or hh:mm:ss)";
            return false;
        }
        double? perUnit = unit switch
        {
            _ when unit.Equals("ms", StringComparison.OrdinalIgnoreCase) => 1,
            _ when unit.Equals("s", StringComparison.OrdinalIgnoreCase) => 1000,
            _ when unit.Equals("m", StringComparison.OrdinalIgnoreCase) => 60_000,
            _ when unit.Equals("h", StringComparison.OrdinalIgnoreCase) => 3_600_000,
            _ when unit.Equals("d", StringComparison.OrdinalIgnoreCase) => 86_400_000,
            _ => null,
        };
        if (perUnit is not { } factor)
        {
            error = $"'{s}' has an unknown unit '{unit}'; units are ms, s, m, h and d (e.g. {Syntax})";
            return false;
        }
        double ms = amount * factor;
        if (ms > MaxMilliseconds)
        {
            error = $"'{s}' is far too long";
            return false;
        }
        value = TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
        error = "";
        return true;
    }

    public static TimeSpan Parse(string? text) =>
        TryParse(text, out var value, out string error) ? value : throw new FormatException(error);

    /// <summary>The shortest unit form that is exact (<c>1s</c>, <c>250ms</c>), else the clock form.</summary>
    public static string Format(TimeSpan value)
    {
        long ticks = value.Ticks;
        if (ticks == 0) return "0s";
        if (ticks < 0 || ticks % TimeSpan.TicksPerMillisecond != 0) return value.ToString("c", CultureInfo.InvariantCulture);
        (long size, string unit)[] units = [(TimeSpan.TicksPerDay, "d"), (TimeSpan.TicksPerHour, "h"), (TimeSpan.TicksPerMinute, "m"), (TimeSpan.TicksPerSecond, "s"), (TimeSpan.TicksPerMillisecond, "ms")];
        foreach (var (size, unit) in units)
            if (ticks % size == 0) return (ticks / size).ToString(CultureInfo.InvariantCulture) + unit;
        return value.ToString("c", CultureInfo.InvariantCulture);
    }
}
