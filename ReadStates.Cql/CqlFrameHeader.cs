using System.Buffers.Binary;

namespace ReadStates.Cql;

/// <summary>The 9-byte frame header: version, flags, stream, opcode, body length (all big-endian).</summary>
internal readonly struct CqlFrameHeader
{
    public const int Size = 9;
    public const byte RequestVersion = 0x04;
    public const byte ResponseVersion = 0x84;
    public const int MaxBodyLength = 256 * 1024 * 1024;

    public readonly byte Version;
    public readonly CqlFrameFlags Flags;
    public readonly short Stream;
    public readonly CqlOpcode Opcode;
    public readonly int Length;

    public CqlFrameHeader(byte version, CqlFrameFlags flags, short stream, CqlOpcode opcode, int length)
    {
        Version = version;
        Flags = flags;
        Stream = stream;
        Opcode = opcode;
        Length = length;
    }

    public bool IsResponse => (Version & 0x80) != 0;

    public static CqlFrameHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size) CqlThrow.Protocol("Truncated frame header.");
        return new CqlFrameHeader(
            source[0],
            (CqlFrameFlags)source[1],
            BinaryPrimitives.ReadInt16BigEndian(source[2..]),
            (CqlOpcode)source[4],
            BinaryPrimitives.ReadInt32BigEndian(source[5..]));
    }

    public void Write(Span<byte> destination)
    {
        destination[0] = Version;
        destination[1] = (byte)Flags;
        BinaryPrimitives.WriteInt16BigEndian(destination[2..], Stream);
        destination[4] = (byte)Opcode;
        BinaryPrimitives.WriteInt32BigEndian(destination[5..], Length);
    }

    /// <summary>Patches the stream id of an already encoded frame in place.</summary>
    public static void SetStream(Span<byte> frame, short stream) => BinaryPrimitives.WriteInt16BigEndian(frame[2..], stream);
}
