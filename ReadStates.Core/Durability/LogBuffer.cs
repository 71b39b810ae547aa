using System.Buffers.Binary;
using System.Diagnostics;
using ReadStates.Core.Storage;

namespace ReadStates.Core.Durability;

/// <summary>
/// A growable byte buffer that change-log records are encoded into (<see cref="LogFormat"/>): one per
/// shard for the group commit (appended to under the shard lock), or a standalone one for a spill.
/// Reused: it grows to the size a group needs and stays there, so steady appends allocate nothing.
/// WARNING: appended to under a shard lock: encode only, never block or call out. Not thread-safe.
/// </summary>
internal sealed class LogBuffer
{
    private const int MaxStateBytes = 96;
    private const int MaxHeaderBytes = LogFormat.RecordHeader + 1 + 2 * Varint.MaxLength + 4;

    private byte[] _bytes;
    private int _length;
    private int _recordStart = -1;
    private int _countAt;
    private int _states;

    public LogBuffer(int initialBytes = 4096) => _bytes = new byte[initialBytes];

    public int Length => _length;
    public int Capacity => _bytes.Length;
    public ReadOnlySpan<byte> Written => _bytes.AsSpan(0, _length);

    public void Clear()
    {
        Debug.Assert(_recordStart < 0, "cleared in the middle of a record");
        _length = 0;
        // A burst can leave a huge buffer behind; give it back rather than hold it for ever.
        if (_bytes.Length > 16 << 20) _bytes = new byte[4096];
    }

    /// <summary>Starts a record of one user's states; they follow with <see cref="AddState"/>, then <see cref="EndRecord"/>.</summary>
    public void BeginRecord(ulong userId, ulong userVersion)
    {
        Debug.Assert(_recordStart < 0, "a record is already open");
        Ensure(MaxHeaderBytes);
        _recordStart = _length;
        _length += LogFormat.RecordHeader;
        _bytes[_length++] = LogFormat.KindUserStates;
        _length += Varint.Write(_bytes.AsSpan(_length), userId);
        _length += Varint.Write(_bytes.AsSpan(_length), userVersion);
        _countAt = _length;
        _length += 4;
        _states = 0;
    }

    public void AddState(in ReadState s, int overflowCount, ulong overflowMaxId, ReadOnlySpan<ulong> mentionIds)
    {
        Debug.Assert(_recordStart >= 0, "BeginRecord first");
        Ensure(MaxStateBytes + mentionIds.Length * Varint.MaxLength);
        var b = _bytes.AsSpan(_length);
        BinaryPrimitives.WriteUInt64LittleEndian(b, s.ChannelId);
        BinaryPrimitives.WriteUInt64LittleEndian(b[8..], s.LastMessageId);
        int i = 16;
        i += Varint.Write(b[i..], s.ParentId);
        i += Varint.Write(b[i..], s.Version);
        i += Varint.Write(b[i..], (uint)s.MentionCount);
        b[i++] = (byte)(((int)s.Type & 0xF) | ((int)s.Flags << 4));
        i += Varint.Write(b[i..], (ulong)s.LastPinTimestamp);
        i += Varint.Write(b[i..], (uint)s.LastViewed);
        i += Varint.Write(b[i..], (uint)overflowCount);
        i += Varint.Write(b[i..], overflowMaxId);
        i += Varint.Write(b[i..], (uint)mentionIds.Length);
        ulong previous = 0;
        foreach (ulong id in mentionIds)
        {
            Debug.Assert(id > previous, "mention ids ascend");
            i += Varint.Write(b[i..], id - previous);
            previous = id;
        }
        _length += i;
        _states++;
    }

    /// <summary>Closes the record: its state count, length and checksum.</summary>
    public void EndRecord()
    {
        Debug.Assert(_recordStart >= 0, "no record is open");
        BinaryPrimitives.WriteInt32LittleEndian(_bytes.AsSpan(_countAt), _states);
        LogFormat.Seal(_bytes.AsSpan(_recordStart, _length - _recordStart));
        _recordStart = -1;
    }

    /// <summary>Drops an open record (nothing in it was worth logging).</summary>
    public void AbandonRecord()
    {
        Debug.Assert(_recordStart >= 0, "no record is open");
        _length = _recordStart;
        _recordStart = -1;
    }

    public int OpenRecordStates => _states;

    private void Ensure(int more)
    {
        if (_length + more <= _bytes.Length) return;
        Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + more));
    }
}
