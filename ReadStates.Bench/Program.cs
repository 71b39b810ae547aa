namespace ReadStates.Bench;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("ReadStates.Bench: subcommands arrive with the benchmarks issue.");
        return args.Length == 0 ? 0 : 2;
    }
}
