using ReadStates.Bench.Cli;

namespace ReadStates.Bench.Memory;

internal static class MemoryCommand
{
    public static CommandSpec Spec { get; } = new("memory", "Not built yet.", [], _ => Task.FromResult(2));
}
