using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Load;

internal static class CompareCommand
{
    public static CommandSpec Spec { get; } = new("compare", "Not built yet.", [], _ => Task.FromResult(2));
}
