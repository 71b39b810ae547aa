using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace ReadStates.Bench.Micro;

/// <summary>The one config every micro benchmark runs with: the job length is the only knob.</summary>
internal static class BenchConfig
{
    public static IConfig Create(string job, bool outOfProcess, string artifacts)
    {
        var j = job switch
        {
            // CI smoke: proves the benchmark runs and measures allocations; the time is not meaningful.
            "quick" => Job.Default.WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3)
                .WithIterationTime(TimeInterval.FromMilliseconds(50)).WithId("Quick"),
            "short" => Job.ShortRun.WithId("Short"),
            "medium" => Job.MediumRun.WithId("Medium"),
            "default" => Job.Default.WithId("Default"),
            _ => throw new Cli.UsageException($"--job must be quick, short, medium or default; got '{job}'."),
        };
        if (!outOfProcess) j = j.WithToolchain(InProcessEmitToolchain.Instance);
        return ManualConfig.CreateEmpty()
            .AddJob(j)
            .AddLogger(ConsoleLogger.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddColumn(StatisticColumn.Median, StatisticColumn.Min)
            .AddExporter(MarkdownExporter.GitHub)
            .AddExporter(JsonExporter.Brief)
            .WithArtifactsPath(artifacts)
            .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend))
            .WithOptions(ConfigOptions.DisableLogFile);
    }
}
