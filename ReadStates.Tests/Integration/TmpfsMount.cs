using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ReadStates.Tests.Integration;

/// <summary>
/// A size-limited tmpfs mounted for one test, so it can fill a real file system. Needs Linux, root and a
/// working <c>mount</c>; <see cref="TryMount"/> says why not otherwise, for the test to report as skipped.
/// </summary>
internal sealed partial class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    public string Path { get; }

    public long FreeBytes => new DriveInfo(Path).AvailableFreeSpace;

    public static TmpfsMount? TryMount(int megabytes, out string whyNot)
    {
        whyNot = "";
        if (!OperatingSystem.IsLinux())
        {
            whyNot = "needs Linux to mount a size-limited tmpfs";
            return null;
        }
        if (GetEffectiveUserId() != 0)
        {
            whyNot = "needs root to mount a size-limited tmpfs (running as a normal user)";
            return null;
        }
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "readstates-tmpfs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        if (code != 0)
        {
            Directory.Delete(path);
            whyNot = $"mount -t tmpfs failed with exit code {code}: {output.Trim()} (a container without CAP_SYS_ADMIN?)";
            return null;
        }
        return new TmpfsMount(path);
    }

    /// <summary>Writes real pages (tmpfs keeps holes free) until at most <paramref name="leaveFree"/> bytes are left.</summary>
    public void FillLeaving(string file, long leaveFree)
    {
        var chunk = new byte[64 << 10];
        Random.Shared.NextBytes(chunk);
        using var stream = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 0);
        for (int i = 0; i < 100_000; i++)
        {
            long excess = FreeBytes - leaveFree;
            if (excess <= 0) return;
            stream.Write(chunk, 0, (int)Math.Min(chunk.Length, Math.Max(4096, excess)));
        }
    }

    public void Dispose()
    {
        // Lazy: a test that failed may still hold a file open there.
        Run("umount", "-l", Path);
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info)!;
            string output = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(10_000)) process.Kill();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, ex.Message);
        }
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
