using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ReadStates.Durability;

/// <summary>
/// fdatasync for segments (the data and the size, not the timestamps: one journal write less than
/// fsync on ext4/xfs) and fsync of the directory, so a new segment's name survives a power loss.
/// Elsewhere than Linux, .NET's flush-to-disk (fsync / FlushFileBuffers) and no directory sync.
/// </summary>
internal static partial class NativeSync
{
    public static void DataSync(FileStream file)
    {
        if (!OperatingSystem.IsLinux())
        {
            file.Flush(flushToDisk: true);
            return;
        }
        if (fdatasync(file.SafeFileHandle) != 0) throw Failure("fdatasync", file.Name);
    }

    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0) throw Failure("open", directory);
        try
        {
            if (fsync(fd) != 0) throw Failure("fsync", directory);
        }
        finally
        {
            _ = close(fd);
        }
    }

    private static IOException Failure(string call, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call}({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(SafeFileHandle fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
