using System.Buffers;
using System.Net;
using ReadStates.Cql;

namespace ReadStates.Tests.Cql;

/// <summary>RESULT and ERROR decoding from bodies built with the protocol writer, and the write path's allocation budget.</summary>
public class CqlResultTests
{
    private delegate void Body(ref CqlWriter w);

    private static CqlResponse Response(Body body, CqlOpcode opcode = CqlOpcode.Result)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var w = new CqlWriter(buffer);
        body(ref w);
        return new CqlResponse { Opcode = opcode, Buffer = buffer, Length = w.Position };
    }

    [Fact]
    public void Rows_WithGlobalSpecPagingStateAndNulls_Decode()
    {
        var guid = Guid.Parse("123e4567-e89b-12d3-a456-426614174000");
        var response = Response((ref CqlWriter w) =>
        {
            w.WriteInt(2);
            w.WriteInt(0x03);
            w.WriteInt(5);
            w.WriteBytes([9, 8]);
            w.WriteString("ks");
            w.WriteString("t");
            w.WriteString("a"); CqlType.Bigint.Write(ref w);
            w.WriteString("b"); CqlType.SetOf(CqlType.Varchar).Write(ref w);
            w.WriteString("c"); CqlType.Uuid.Write(ref w);
            w.WriteString("d"); CqlType.Inet.Write(ref w);
            w.WriteString("e"); CqlType.Boolean.Write(ref w);
            w.WriteInt(2);
            w.WriteBytes([0, 0, 0, 0, 0, 0, 0, 7]);
            w.WriteBytes([0, 0, 0, 2, 0, 0, 0, 1, (byte)'x', 0, 0, 0, 2, (byte)'y', (byte)'z']);
            Span<byte> g = stackalloc byte[16];
            guid.TryWriteBytes(g, bigEndian: true, out _);
            w.WriteBytes(g);
            w.WriteBytes([127, 0, 0, 1]);
            w.WriteBytes([1]);
            for (int i = 0; i < 5; i++) w.WriteNullBytes();
        });
        using var rows = CqlRowSet.FromResponse(ref response)!;
        response.Dispose();
        Assert.Equal(["a", "b", "c", "d", "e"], rows.Columns.Select(c => c.Name));
        Assert.Equal("set<varchar>", rows.Columns[1].Type.ToString());
        Assert.Equal("ks", rows.Columns[0].Keyspace);
        Assert.Equal([9, 8], rows.PagingState);
        Assert.Equal(2, rows.RowCount);
        Assert.True(rows.MoveNext());
        Assert.Equal(7, rows.GetInt64(0));
        Assert.Equal(["x", "yz"], (List<object?>)rows.GetValue(1)!);
        Assert.Equal(guid, rows.GetValue(2));
        Assert.Equal(IPAddress.Loopback, rows.GetValue(3));
        Assert.True(rows.GetBoolean(4));
        Assert.True(rows.MoveNext());
        Assert.True(rows.IsNull(0));
        Assert.Null(rows.GetValue(1));
        Assert.Equal(0, rows.GetInt64(0));
        Assert.False(rows.MoveNext());
    }

    [Fact]
    public void Prepared_CarriesIdAndPartitionKeyIndexes()
    {
        using var response = Response((ref CqlWriter w) =>
        {
            w.WriteInt(4);
            w.WriteShortBytes([0xde, 0xad]);
            w.WriteInt(1);
            w.WriteInt(3);
            w.WriteInt(2);
            w.WriteUShort(2);
            w.WriteUShort(0);
            w.WriteString("ks");
            w.WriteString("t");
            w.WriteString("k2"); CqlType.Int.Write(ref w);
            w.WriteString("v"); CqlType.Blob.Write(ref w);
            w.WriteString("k1"); CqlType.Varchar.Write(ref w);
            w.WriteInt(4);
            w.WriteInt(0);
        });
        var prepared = CqlResults.ReadPrepared(response.Body);
        Assert.Equal([0xde, 0xad], prepared.Id);
        Assert.Equal([2, 0], prepared.PartitionKeyIndexes);
        Assert.Equal(["k2", "v", "k1"], prepared.Variables.Select(v => v.Name));
        Assert.Empty(prepared.ResultColumns);
    }

    [Fact]
    public void SetKeyspaceAndSchemaChange_Decode()
    {
        using var ks = Response((ref CqlWriter w) => { w.WriteInt(3); w.WriteString("readstates"); });
        Assert.Equal(CqlResultKind.SetKeyspace, CqlResults.ReadKind(ks.Body));
        Assert.Equal("readstates", CqlResults.ReadSetKeyspace(ks.Body));
        using var change = Response((ref CqlWriter w) =>
        {
            w.WriteInt(5);
            w.WriteString("CREATED");
            w.WriteString("TABLE");
            w.WriteString("readstates");
            w.WriteString("read_states");
        });
        Assert.Equal(new SchemaChange("CREATED", "TABLE", "readstates.read_states"), CqlResults.ReadSchemaChange(change.Body));
    }

    [Fact]
    public void Errors_DecodeCodeAndExtras_AndTransience()
    {
        using var unavailable = Response((ref CqlWriter w) => { w.WriteInt(0x1000); w.WriteString("no"); w.WriteUShort(6); w.WriteInt(3); w.WriteInt(1); }, CqlOpcode.Error);
        var e = Assert.Throws<CqlServerException>(() => unavailable.ThrowIfError());
        Assert.Equal((CqlErrorCode.Unavailable, CqlConsistency.LocalQuorum, 3, 1, true), (e.Code, e.Consistency!.Value, e.Required, e.Alive, e.IsTransient));

        using var read = Response((ref CqlWriter w) => { w.WriteInt(0x1200); w.WriteString("rt"); w.WriteUShort(1); w.WriteInt(0); w.WriteInt(1); w.WriteByte(1); }, CqlOpcode.Error);
        e = CqlServerException.Decode(read.Body);
        Assert.Equal((CqlErrorCode.ReadTimeout, 1, true), (e.Code, e.BlockFor, e.DataPresent));

        using var unprepared = Response((ref CqlWriter w) => { w.WriteInt(0x2500); w.WriteString("?"); w.WriteShortBytes([1, 2, 3]); }, CqlOpcode.Error);
        e = CqlServerException.Decode(unprepared.Body);
        Assert.Equal([1, 2, 3], e.UnpreparedId);
        Assert.False(e.IsTransient);

        using var invalid = Response((ref CqlWriter w) => { w.WriteInt(0x2200); w.WriteString("bad"); }, CqlOpcode.Error);
        e = CqlServerException.Decode(invalid.Body);
        Assert.Equal("bad", e.ServerMessage);
        Assert.False(e.IsTransient);
    }

    [Fact]
    public void Envelope_TracingIdWarningsAndCustomPayload_AreSkipped()
    {
        using var response = Response((ref CqlWriter w) =>
        {
            w.WriteUuid(Guid.NewGuid());
            w.WriteStringList(["Batch too large"]);
            w.WriteUShort(1);
            w.WriteString("k");
            w.WriteBytes([1]);
            w.WriteInt(1);
        });
        int offset = CqlConnection.SkipEnvelope(response.Buffer.AsSpan(0, response.Length),
            CqlFrameFlags.Tracing | CqlFrameFlags.Warning | CqlFrameFlags.CustomPayload, out var warnings);
        Assert.Equal(["Batch too large"], warnings);
        Assert.Equal(response.Length - 4, offset);
    }

    [Fact]
    public void EncodingABatch_AllocatesNothing_AfterWarmUp()
    {
        var statement = CqlCodecTests.FakeStatement(new byte[16], pk: [0]);
        using var batch = new CqlBatch();
        using var values = new CqlValues();
        byte[] blob = new byte[40];
        void EncodeOnce()
        {
            batch.Clear();
            for (int i = 0; i < 20; i++)
            {
                values.Clear();
                values.AddBigint(42);
                values.AddBigint(i);
                values.AddInt(i);
                values.AddBlob(blob);
                values.AddTinyint(1);
                values.AddUnset();
                values.AddTimestamp(1_700_000_000_000);
                batch.Add(statement, values);
            }
            Murmur3.TryTokenOf(batch.Values, 0, statement.PartitionKeyIndexes, out _);
            using var frame = CqlRequests.Batch(batch, CqlConsistency.LocalQuorum, null, 1_700_000_000_000_000);
            CqlFrameHeader.SetStream(frame.Buffer, 5);
        }
        for (int i = 0; i < 50; i++) EncodeOnce();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) EncodeOnce();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
