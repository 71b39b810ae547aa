namespace ReadStates.Core.Durability;

/// <summary>
/// Where the change log's bytes live: numbered segments, appended to and synced. Core decides what the
/// bytes mean (<see cref="LogFormat"/>); a device only stores them. The file implementation is
/// <c>ReadStates.Durability.FileLogDevice</c> (Core does no I/O). One writer at a time calls
/// <see cref="StartSegment"/>, <see cref="Append"/> and <see cref="Sync"/>; <see cref="Delete"/> may come
/// from another thread but never names the segment being appended to.
/// </summary>
public interface ILogDevice : IDisposable
{
    /// <summary>Where the log is, for messages (a directory).</summary>
    string Location { get; }

    /// <summary>The segments on the device, ascending.</summary>
    IReadOnlyList<long> Segments();

    /// <summary>Reads a segment from its start.</summary>
    ILogSegmentReader OpenRead(long segment);

    /// <summary>Creates <paramref name="segment"/> (higher than every existing one) and makes it the one appended to; the previous one is closed.</summary>
    void StartSegment(long segment);

    /// <summary>Appends bytes to the current segment (buffered until <see cref="Sync"/>).</summary>
    void Append(ReadOnlySpan<byte> bytes);

    /// <summary>Returns once everything appended, and the current segment's existence, is on stable storage.</summary>
    void Sync();

    void Delete(long segment);
}

/// <summary>Sequential reads of one segment.</summary>
public interface ILogSegmentReader : IDisposable
{
    /// <summary>Fills as much of <paramref name="buffer"/> as it can; 0 at the end.</summary>
    int Read(Span<byte> buffer);
}
