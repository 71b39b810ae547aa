using ReadStates.Bench.Cli;

namespace ReadStates.Bench;

/// <summary>One executable, five modes: micro (BenchmarkDotNet), load (open-loop gRPC/Redis), memory (footprint and GC), compare, watch (Watch delivery latency and memory).</summary>
internal static class Program
{
    private static IReadOnlyList<CommandSpec> Commands =>
    [
        Micro.MicroCommand.Spec,
        Load.LoadCommand.Spec,
        Memory.MemoryCommand.Spec,
        Load.CompareCommand.Spec,
        Watch.WatchCommand.Spec,
        Serving.AllocCommand.Spec,
        Serving.GcCommand.Spec,
    ];

    private static async Task<int> Main(string[] args)
    {
        var commands = Commands;
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            PrintUsage(commands, args.Length == 0 ? Console.Error : Console.Out);
            return args.Length == 0 ? 2 : 0;
        }
        var command = commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            Console.Error.WriteLine($"Unknown mode '{args[0]}'.");
            PrintUsage(commands, Console.Error);
            return 2;
        }
        var rest = args.Skip(1).ToArray();
        int dashDash = Array.IndexOf(rest, "--");
        var own = dashDash < 0 ? rest : rest[..dashDash];
        if (own.Contains("--help") || own.Contains("-h"))
        {
            command.PrintHelp(Console.Out);
            return 0;
        }
        try
        {
            var parsed = ParsedArgs.Parse(command, rest);
            return await command.Run(parsed);
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"{command.Name}: {ex.Message}");
            return 2;
        }
    }

    private static void PrintUsage(IReadOnlyList<CommandSpec> commands, TextWriter w)
    {
        w.WriteLine("Usage: ReadStates.Bench <mode> [options]   (ReadStates.Bench <mode> --help for its options)");
        w.WriteLine();
        foreach (var c in commands) w.WriteLine($"  {c.Name,-8} {c.Summary.Split(Environment.NewLine)[0]}");
    }
}
