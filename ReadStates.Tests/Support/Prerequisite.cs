using System.Diagnostics;

namespace ReadStates.Tests.Support;

/// <summary>
/// Tests whose prerequisite (a driver, an external server) is absent report <em>skipped</em> with the
/// reason, never <em>passed</em>. CI sets <see cref="RequireVariable"/>=1 after installing the drivers,
/// so there a missing driver fails the run instead of silently skipping what CI is meant to check.
/// </summary>
internal static class Prerequisite
{
    public const string RequireVariable = "READSTATES_REQUIRE_DRIVERS";

    /// <summary>Skips the calling <c>[SkippableFact]</c> (or fails it when required) unless <paramref name="present"/>.</summary>
    public static void Require(bool present, string reason)
    {
        if (present) return;
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
            Assert.Fail($"{reason} ({RequireVariable}=1: this run must have it)");
        Skip.If(true, reason);
    }

    /// <summary>Skips unless <paramref name="variable"/> is set; returns its value. Never forced by <see cref="RequireVariable"/>.</summary>
    public static string RequireEnvironment(string variable, string what)
    {
        string? value = Environment.GetEnvironmentVariable(variable);
        Skip.If(string.IsNullOrWhiteSpace(value), $"{variable} is not set: {what}");
        return value!;
    }

    /// <summary>True when <paramref name="python"/> can import <paramref name="module"/> (bounded to 30 s).</summary>
    public static bool PythonHasModule(string python, string module)
    {
        if (!File.Exists(python)) return false;
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"import {module}");
        using var process = Process.Start(psi);
        if (process is null) return false;
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            return false;
        }
        return process.ExitCode == 0;
    }

    /// <summary>True when <paramref name="program"/> is an executable file on PATH.</summary>
    public static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}
