using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Micro;

internal static class MicroCommand
{
    public static CommandSpec Spec { get; } = new("micro", "Not built yet.", [], _ => Task.FromResult(2));
}
