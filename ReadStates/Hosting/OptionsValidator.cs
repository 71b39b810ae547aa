using Microsoft.Extensions.Options;

namespace ReadStates.Hosting;

/// <summary>
/// Runs an options class's own <c>Validate()</c> at start, so every problem is reported at once. The
/// libraries' options speak of themselves ("Shards must be …"); this adds where they come from
/// ("Engine:Shards …"). The host's own options may already name their section; those are left as they are.
/// </summary>
internal sealed class OptionsValidator<TOptions>(string section, Func<TOptions, IReadOnlyList<string>> validate) : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var errors = validate(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => e.StartsWith(section + ":", StringComparison.Ordinal) ? e : $"{section}:{e}"));
    }
}
