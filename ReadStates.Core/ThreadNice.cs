using System.Runtime.InteropServices;

namespace ReadStates.Core;

/// <summary>
/// Lowers the OS priority (nice value) of the calling thread. Linux only: there <c>setpriority(PRIO_PROCESS, tid)</c>
/// applies to one thread, and raising a nice value needs no privilege. .NET's <see cref="Thread.Priority"/> does
/// not change the scheduling of a thread on Linux, hence the system call.
/// </summary>
internal static partial class ThreadNice
{
    private const int PrioProcess = 0;

    /// <summary>Sets the calling thread's nice value to <paramref name="nice"/> (never lower than it is). False, with the reason, where it cannot.</summary>
    public static bool TryLowerCurrent(int nice, out string? why)
    {
        if (!OperatingSystem.IsLinux())
        {
            why = "thread priorities are only changed on Linux";
            return false;
        }
        try
        {
            int tid = gettid();
            if (Current(tid) >= nice)
            {
                why = null;
                return true;
            }
            if (setpriority(PrioProcess, tid, nice) == 0)
            {
                why = null;
                return true;
            }
            why = $"setpriority failed with errno {Marshal.GetLastPInvokeError()}";
            return false;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            why = e.Message;
            return false;
        }
    }

    /// <summary>The calling thread's nice value on Linux.</summary>
    public static int Current() => Current(gettid());

    private static int Current(int tid)
    {
        // getpriority returns the nice value itself (from glibc); -1 is also a valid value, so errno tells.
        Marshal.SetLastPInvokeError(0);
        int value = getpriority(PrioProcess, tid);
        return value == -1 && Marshal.GetLastPInvokeError() != 0 ? 0 : value;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setpriority(int which, int who, int prio);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getpriority(int which, int who);

    [LibraryImport("libc")]
    private static partial int gettid();
}
