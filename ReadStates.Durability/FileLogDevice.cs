using System.Globalization;
using ReadStates.Core.Durability;

namespace ReadStates.Durability;

/// <summary>
/// The change log as files in one directory: <c>segment-0000000000000042.log</c>, appended with plain
/// write(2) calls (the engine batches a group into few appends) and made durable with fdatasync(2); a
/// new segment's directory entry is fsynced before anything in it is acknowledged. A <c>LOCK</c> file,
/// held open exclusively, keeps a second process off the same log.
/// </summary>
public sealed class FileLogDevice : ILogDevice
{
    private const string Prefix = "segment-";
    private const string Suffix = ".log";

    private readonly string _directory;
    private readonly FileStream _lock;
    private readonly Lock _gate = new();
    private FileStream? _current;
    private long _currentId = -1;
    private bool _directoryDirty;
    private bool _disposed;

    /// <summary>Opens (creating when missing) the log directory and locks it.</summary>
    public FileLogDevice(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
        try
        {
            _lock = new FileStream(Path.Combine(_directory, "LOCK"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"The change log {_directory} is in use by another process (its LOCK file is held): {ex.Message}", ex);
        }
    }

    public string Location => _directory;

    public IReadOnlyList<long> Segments()
    {
        var ids = new List<long>();
        foreach (string path in Directory.EnumerateFiles(_directory, Prefix + "*" + Suffix))
        {
            string name = Path.GetFileName(path);
            if (long.TryParse(name.AsSpan(Prefix.Length, name.Length - Prefix.Length - Suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long id))
                ids.Add(id);
        }
        ids.Sort();
        return ids;
    }

    private string PathOf(long segment) => Path.Combine(_directory, Prefix + segment.ToString("D16", CultureInfo.InvariantCulture) + Suffix);

    public ILogSegmentReader OpenRead(long segment) =>
        new Reader(new FileStream(PathOf(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16));

    public void StartSegment(long segment)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            CloseCurrent();
            // No FileStream buffer: the engine hands over whole groups, and Sync must see every byte.
            _current = new FileStream(PathOf(segment), FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 0);
            _currentId = segment;
            _directoryDirty = true;
        }
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        var current = _current ?? throw new InvalidOperationException("StartSegment first.");
        current.Write(bytes);
    }

    public void Sync()
    {
        var current = _current ?? throw new InvalidOperationException("StartSegment first.");
        NativeSync.DataSync(current);
        if (!_directoryDirty) return;
        NativeSync.SyncDirectory(_directory);
        _directoryDirty = false;
    }

    public void Delete(long segment)
    {
        lock (_gate)
        {
            if (segment == _currentId) CloseCurrent();
            File.Delete(PathOf(segment));
        }
    }

    private void CloseCurrent()
    {
        _current?.Dispose();
        _current = null;
        _currentId = -1;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            CloseCurrent();
            _lock.Dispose();
        }
    }

    private sealed class Reader(FileStream stream) : ILogSegmentReader
    {
        public int Read(Span<byte> buffer) => stream.Read(buffer);

        public void Dispose() => stream.Dispose();
    }
}
