using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Load;

internal static class LoadCommand
{
    public static CommandSpec Spec { get; } = new("load", "Not built yet.", [], _ => Task.FromResult(2));
}
