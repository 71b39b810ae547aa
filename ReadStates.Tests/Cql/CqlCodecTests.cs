using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text;
using System.Text.Json;
using ReadStates.Cql;

namespace ReadStates.Tests.Cql;

/// <summary>Our encoders against the byte vectors of CQL.md and of the DataStax Python driver (vectors.json).</summary>
public class CqlCodecTests
{
    private static string Hex(PooledFrame frame, short stream = 1)
    {
        using (frame)
        {
            CqlFrameHeader.SetStream(frame.Buffer, stream);
            return Convert.ToHexString(frame.Span).ToLowerInvariant();
        }
    }

    private static string Clean(string hex) => hex.Replace(" ", "", StringComparison.Ordinal).Replace("|", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal);

    [Fact]
    public void Startup_MatchesCqlMdVector()
    {
        var frame = CqlRequests.Startup([new("CQL_VERSION", "3.0.0")]);
        Assert.Equal(Clean("04 00 0001 01 00000016 0001 000b 43514c5f56455253494f4e 0005 332e302e30"), Hex(frame));
    }

    [Fact]
    public void Execute_MatchesCqlMdVector()
    {
        using var values = new CqlValues();
        values.AddBigint(1);
        values.AddNull();
        var p = new QueryParameters { Consistency = CqlConsistency.LocalQuorum, Values = values, Timestamp = 123 };
        Assert.Equal(Clean("040000010a00000021 0002aabb 0006 21 0002 00000008 0000000000000001 ffffffff 000000000000007b"),
            Hex(CqlRequests.Execute([0xaa, 0xbb], p)));
    }

    [Fact]
    public void Query_MatchesCqlMdVector()
    {
        var p = new QueryParameters { Consistency = CqlConsistency.One };
        string expected = "0400000107000000230000001c" + Convert.ToHexString(Encoding.UTF8.GetBytes("SELECT key FROM system.local")).ToLowerInvariant() + "000100";
        Assert.Equal(expected, Hex(CqlRequests.Query("SELECT key FROM system.local", p)));
    }

    [Fact]
    public void UnloggedBatch_MatchesCqlMdVector()
    {
        using var batch = new CqlBatch();
        using var values = new CqlValues();
        values.AddBigint(1);
        values.AddBigint(2);
        batch.Add(FakeStatement([0xaa, 0xbb]), values);
        batch.Add("UPDATE t SET a=1 WHERE k=2");
        string expected = Clean("""
            040000010d0000004e 01 0002 | 01 0002aabb 0002 00000008 0000000000000001 00000008
            0000000000000002 | 00 0000001a 55504441544520742053455420613d31205748455245206b3d32 0000 |
            0006 | 20 | 00060a24181e4000
            """);
        Assert.Equal(expected, Hex(CqlRequests.Batch(batch, CqlConsistency.LocalQuorum, null, 1700000000000000)));
    }

    [Fact]
    public void AuthResponse_MatchesCqlMdVector()
    {
        var frame = CqlRequests.AuthResponse(CqlRequests.PlainToken("cassandra", "cassandra"));
        Assert.Equal(Clean("040000010f00000018 00000014 00 63617373616e647261 00 63617373616e647261"), Hex(frame));
    }

    [Fact]
    public void ValueEncodings_MatchCqlMd()
    {
        using var v = new CqlValues();
        v.AddBigint(-2);
        v.AddVarint(128);
        v.AddVarint(-129);
        v.AddTimestamp(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds());
        Assert.Equal("fffffffffffffffe", Payload(v, 0));
        Assert.Equal("0080", Payload(v, 1));
        Assert.Equal("ff7f", Payload(v, 2));
        Assert.Equal("0000018cc251f400", Payload(v, 3));
    }

    [Fact]
    public void UnsetAndNull_AreLengthsMinusTwoAndMinusOne()
    {
        using var v = new CqlValues();
        v.AddUnset();
        v.AddNull();
        Assert.Equal("fffffffeffffffff", Convert.ToHexString(v.Encoded).ToLowerInvariant());
        Assert.Equal(CqlValues.UnsetLength, v.GetValue(0, out _));
        Assert.Equal(CqlValues.NullLength, v.GetValue(1, out _));
    }

    private static string Payload(CqlValues v, int i)
    {
        v.GetValue(i, out var payload);
        return Convert.ToHexString(payload).ToLowerInvariant();
    }

    internal static PreparedStatement FakeStatement(byte[] id, int[]? pk = null)
        => new("-", new PreparedResult { Id = id, Variables = [], PartitionKeyIndexes = pk ?? [], ResultColumns = [] });

    public static TheoryData<string> FrameNames()
    {
        var data = new TheoryData<string>();
        foreach (var f in CqlVectors.Root.GetProperty("frames").EnumerateArray()) data.Add(f.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(FrameNames))]
    public void Frame_MatchesPythonDriver(string name)
    {
        var v = CqlVectors.Frame(name);
        short stream = (short)v.GetProperty("stream").GetInt32();
        string expected = v.GetProperty("hex").GetString()!;
        Assert.Equal(expected, Hex(Encode(name, v), stream));
    }

    private static PooledFrame Encode(string name, JsonElement v)
    {
        switch (name)
        {
            case "options": return CqlRequests.Options();
            case "startup": return CqlRequests.Startup([new("CQL_VERSION", "3.0.0")]);
            case "startup_lz4": return CqlRequests.Startup([new("COMPRESSION", "lz4"), new("CQL_VERSION", "3.0.0")]);
            case "auth_response": return CqlRequests.AuthResponse(CqlRequests.PlainToken(v.GetProperty("user").GetString()!, v.GetProperty("password").GetString()!));
            case "prepare": return CqlRequests.Prepare(v.GetProperty("query").GetString()!);
            case "query_plain":
            case "query_paged":
                return CqlRequests.Query(v.GetProperty("query").GetString()!, Parameters(v));
            case "execute":
            case "execute_unset":
                return CqlRequests.Execute(Convert.FromHexString(v.GetProperty("id").GetString()!), Parameters(v));
            case "batch_unlogged":
            case "batch_unset":
            {
                var batch = new CqlBatch();
                foreach (var s in v.GetProperty("statements").EnumerateArray())
                {
                    var values = Values(s);
                    if (s.TryGetProperty("id", out var id)) batch.Add(FakeStatement(Convert.FromHexString(id.GetString()!)), values);
                    else batch.Add(s.GetProperty("query").GetString()!, values);
                }
                return CqlRequests.Batch(batch, (CqlConsistency)v.GetProperty("consistency").GetInt32(), null, v.GetProperty("timestamp").GetInt64());
            }
            default: throw new ArgumentException(name);
        }
    }

    private static QueryParameters Parameters(JsonElement v) => new()
    {
        Consistency = (CqlConsistency)v.GetProperty("consistency").GetInt32(),
        Values = v.TryGetProperty("values", out _) ? Values(v) : null,
        PageSize = v.TryGetProperty("page_size", out var ps) ? ps.GetInt32() : 0,
        PagingState = v.TryGetProperty("paging_state", out var st) ? Convert.FromHexString(st.GetString()!) : null,
        Timestamp = v.TryGetProperty("timestamp", out var ts) ? ts.GetInt64() : null,
    };

    private static CqlValues Values(JsonElement v)
    {
        var values = new CqlValues();
        foreach (var e in v.GetProperty("values").EnumerateArray())
        {
            if (e.ValueKind == JsonValueKind.Null) values.AddNull();
            else if (e.GetString() == "unset") values.AddUnset();
            else values.AddBlob(Convert.FromHexString(e.GetString()!));
        }
        return values;
    }

    [Fact]
    public void Values_MatchPythonDriver()
    {
        int checkedCount = 0;
        foreach (var e in CqlVectors.Root.GetProperty("values").EnumerateArray())
        {
            using var v = new CqlValues();
            string type = e.GetProperty("type").GetString()!;
            var value = e.GetProperty("value");
            switch (type)
            {
                case "bigint": v.AddBigint(long.Parse(value.GetString()!, CultureInfo.InvariantCulture)); break;
                case "int": v.AddInt(int.Parse(value.GetString()!, CultureInfo.InvariantCulture)); break;
                case "tinyint": v.AddTinyint(sbyte.Parse(value.GetString()!, CultureInfo.InvariantCulture)); break;
                case "boolean": v.AddBoolean(value.GetString() == "true"); break;
                case "timestamp": v.AddTimestamp(long.Parse(value.GetString()!, CultureInfo.InvariantCulture)); break;
                case "varchar": v.AddText(value.GetString()); break;
                case "blob": v.AddBlob(Convert.FromHexString(value.GetString()!)); break;
                case "uuid": v.AddUuid(Guid.Parse(value.GetString()!)); break;
                case "inet": v.AddInet(IPAddress.Parse(value.GetString()!)); break;
                case "set<varchar>": v.AddTextCollection(value.EnumerateArray().Select(x => x.GetString()!).ToList()); break;
                case "varint": v.AddVarint(BigInteger.Parse(value.GetString()!, CultureInfo.InvariantCulture)); break;
                case "list<int>":
                {
                    var items = value.EnumerateArray().Select(x => x.GetInt32()).ToArray();
                    var bytes = new byte[4 + items.Length * 8];
                    BinaryPrimitives.WriteInt32BigEndian(bytes, items.Length);
                    for (int i = 0; i < items.Length; i++)
                    {
                        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + i * 8), 4);
                        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8 + i * 8), items[i]);
                    }
                    v.AddBlob(bytes);
                    Assert.Equal("00000002000000040000000100000004" + "00000002", Payload(v, 0));
                    break;
                }
                default: throw new InvalidOperationException(type);
            }
            Assert.True(e.GetProperty("hex").GetString() == Payload(v, 0), $"{type} {value}");
            checkedCount++;
        }
        Assert.True(checkedCount >= 40);
    }

    [Fact]
    public void DecodedValues_RoundTripPythonDriverBytes()
    {
        foreach (var e in CqlVectors.Root.GetProperty("values").EnumerateArray())
        {
            string type = e.GetProperty("type").GetString()!;
            var bytes = Convert.FromHexString(e.GetProperty("hex").GetString()!);
            var value = e.GetProperty("value");
            object decoded;
            switch (type)
            {
                case "bigint": decoded = CqlType.Bigint.Decode(bytes); Assert.Equal(long.Parse(value.GetString()!, CultureInfo.InvariantCulture), decoded); break;
                case "int": decoded = CqlType.Int.Decode(bytes); Assert.Equal(int.Parse(value.GetString()!, CultureInfo.InvariantCulture), decoded); break;
                case "tinyint": decoded = CqlType.Tinyint.Decode(bytes); Assert.Equal(sbyte.Parse(value.GetString()!, CultureInfo.InvariantCulture), decoded); break;
                case "varchar": Assert.Equal(value.GetString(), CqlType.Varchar.Decode(bytes)); break;
                case "uuid": Assert.Equal(Guid.Parse(value.GetString()!), CqlType.Uuid.Decode(bytes)); break;
                case "inet": Assert.Equal(IPAddress.Parse(value.GetString()!), CqlType.Inet.Decode(bytes)); break;
                case "set<varchar>":
                    Assert.Equal(value.EnumerateArray().Select(x => (object?)x.GetString()).ToList(), (List<object?>)CqlType.SetOf(CqlType.Varchar).Decode(bytes));
                    break;
                case "timestamp":
                    Assert.Equal(long.Parse(value.GetString()!, CultureInfo.InvariantCulture), ((DateTimeOffset)CqlType.Timestamp.Decode(bytes)).ToUnixTimeMilliseconds());
                    break;
            }
        }
    }

    [Fact]
    public void Murmur3_MatchesCqlMdVectors()
    {
        Assert.Equal(2945182322382062539, Murmur3.Token(0L));
        Assert.Equal(6292367497774912474, Murmur3.Token(1L));
        Assert.Equal(8623491988607824794, Murmur3.Token(42L));
        Assert.Equal(7071048584287372947, Murmur3.Token(-1L));
        Assert.Equal(-1931134801720106650, Murmur3.Token(1234567890123456789L));
        Assert.Equal(-4069959284402364209, Murmur3.Token([0, 0, 0, 1]));
        Assert.Equal(-6017608668500074083, Murmur3.Token(Encoding.UTF8.GetBytes("test")));
        Assert.Equal(4354931215268080151, Murmur3.Token(Encoding.UTF8.GetBytes("kremówki")));
    }

    [Fact]
    public void Murmur3_MatchesPythonDriver_ForEveryTailLength()
    {
        int n = 0;
        foreach (var e in CqlVectors.Root.GetProperty("tokens").EnumerateArray())
        {
            var key = Convert.FromHexString(e.GetProperty("key").GetString()!);
            long expected = long.Parse(e.GetProperty("token").GetString()!, CultureInfo.InvariantCulture);
            Assert.True(expected == Murmur3.Token(key), $"key {e.GetProperty("key").GetString()}");
            n++;
        }
        Assert.True(n >= 90);
    }

    [Fact]
    public void Shards_MatchCqlMdVectors()
    {
        Assert.Equal(3, ScyllaSharding.ShardOf(-9219783007514621794, 4, 12));
        Assert.Equal(3, ScyllaSharding.ShardOf(9222582454147032830, 4, 12));
        Assert.Equal(9, ScyllaSharding.ShardOf(Murmur3.Token(42L), 12, 12));
        foreach (var e in CqlVectors.Root.GetProperty("shards").EnumerateArray())
        {
            long token = long.Parse(e.GetProperty("token").GetString()!, CultureInfo.InvariantCulture);
            Assert.Equal(e.GetProperty("shard").GetInt32(), ScyllaSharding.ShardOf(token, e.GetProperty("shards").GetInt32(), e.GetProperty("ignore_msb").GetInt32()));
        }
    }

    [Fact]
    public void CompositeRoutingKey_IsLengthPrefixedComponents()
    {
        using var v = new CqlValues();
        v.AddInt(1);
        v.AddText("ab");
        Assert.True(Murmur3.TryTokenOf(v, 0, [0, 1], out long token));
        Assert.Equal(Murmur3.Token(Convert.FromHexString("0004000000010000026162" + "00")), token);
        Assert.True(Murmur3.TryTokenOf(v, 0, [1], out long single));
        Assert.Equal(Murmur3.Token("ab"u8), single);
    }

    [Fact]
    public void Header_RoundTrips()
    {
        Span<byte> buf = stackalloc byte[9];
        new CqlFrameHeader(0x84, CqlFrameFlags.Warning | CqlFrameFlags.Compressed, -1, CqlOpcode.Event, 77).Write(buf);
        Assert.Equal("8409ffff0c0000004d", Convert.ToHexString(buf).ToLowerInvariant());
        var h = CqlFrameHeader.Read(buf);
        Assert.Equal((short)-1, h.Stream);
        Assert.Equal(CqlOpcode.Event, h.Opcode);
        Assert.Equal(77, h.Length);
        Assert.True(h.IsResponse);
    }

    [Fact]
    public void Lz4_RoundTripsAFrameBody()
    {
        using var frame = CqlRequests.Query(string.Concat(Enumerable.Repeat("SELECT * FROM t; ", 50)), new QueryParameters { Consistency = CqlConsistency.One });
        var compressed = CqlConnection.Compress(frame.Span, out int length);
        Assert.Equal((byte)CqlFrameFlags.Compressed, compressed[1]);
        Assert.True(length < frame.Length);
        int bodyLength = BinaryPrimitives.ReadInt32BigEndian(compressed.AsSpan(5));
        Assert.Equal(length - 9, bodyLength);
        var body = System.Buffers.ArrayPool<byte>.Shared.Rent(bodyLength);
        compressed.AsSpan(9, bodyLength).CopyTo(body);
        var plain = CqlConnection.Decompress(body, ref bodyLength);
        Assert.True(plain.AsSpan(0, bodyLength).SequenceEqual(frame.Span[9..]));
    }

    [Fact]
    public void MonotonicTimestamp_IsStrictlyIncreasing_EvenWhenTheClockStandsStillOrStepsBack()
    {
        var clock = new SteppingClock(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var ts = new MonotonicTimestamp(clock);
        long a = ts.Next(), b = ts.Next();
        Assert.Equal(1735689600000000, a);
        Assert.Equal(a + 1, b);
        clock.Now = clock.Now.AddSeconds(-5);
        Assert.Equal(b + 1, ts.Next());
        clock.Now = clock.Now.AddSeconds(10);
        Assert.Equal(1735689605000000, ts.Next());
    }

    [Fact]
    public void MonotonicTimestamp_IsUniqueAcrossThreads()
    {
        var ts = new MonotonicTimestamp();
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<long, byte>();
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 20_000; i++) Assert.True(seen.TryAdd(ts.Next(), 0));
        });
        Assert.Equal(80_000, seen.Count);
    }

    private sealed class SteppingClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }
}
