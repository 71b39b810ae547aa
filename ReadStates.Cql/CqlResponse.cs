using System.Buffers;

namespace ReadStates.Cql;

/// <summary>
/// A received frame: the header fields and the (decompressed) body in a pooled buffer. The owner must
/// <see cref="Dispose"/> it (or hand it to a <see cref="CqlRowSet"/>) to give the buffer back.
/// </summary>
internal struct CqlResponse : IDisposable
{
    public CqlOpcode Opcode;
    public CqlFrameFlags Flags;
    public short Stream;
    /// <summary>Rented from <see cref="ArrayPool{T}.Shared"/>; null once disposed.</summary>
    public byte[]? Buffer;
    /// <summary>Start of the body proper, past any tracing id, warnings and custom payload.</summary>
    public int Offset;
    public int Length;
    public IReadOnlyList<string>? Warnings;

    public readonly ReadOnlySpan<byte> Body => Buffer.AsSpan(Offset, Length - Offset);

    /// <summary>Throws the decoded ERROR when this is one.</summary>
    public readonly void ThrowIfError()
    {
        if (Opcode == CqlOpcode.Error) throw CqlServerException.Decode(Body);
    }

    public void Dispose()
    {
        var buffer = Buffer;
        Buffer = null;
        if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
    }
}
