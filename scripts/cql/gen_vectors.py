#!/usr/bin/python3
"""Writes ReadStates.Tests/Cql/vectors.json: CQL v4 byte vectors produced by the DataStax Python driver.

Run with the system interpreter, which has Debian's python3-cassandra:
    /usr/bin/python3 scripts/cql/gen_vectors.py
The C# codec tests compare our encoders, value encodings and Murmur3 tokens against this file, so the
expected bytes come from an independent implementation, not from our own code.
"""
import datetime
import ipaddress
import json
import os
import random
import struct
import sys
import uuid

from cassandra import ConsistencyLevel, __version__ as driver_version
from cassandra import cqltypes
from cassandra.metadata import Murmur3Token
from cassandra.protocol import (AuthResponseMessage, BatchMessage, ExecuteMessage, OptionsMessage,
                                PrepareMessage, ProtocolHandler, QueryMessage, StartupMessage)
from cassandra.query import BatchType, UNSET_VALUE

V4 = 4
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ReadStates.Tests", "Cql", "vectors.json")


def frame(msg, stream=1):
    return ProtocolHandler.encode_message(msg, stream, V4, None, False).hex()


def ser(cqltype, value):
    return cqltype.serialize(value, V4).hex()


def bigint(v):
    return struct.pack(">q", v)


def frames():
    out = []
    out.append({"name": "options", "stream": 1, "hex": frame(OptionsMessage())})
    out.append({"name": "startup", "stream": 1, "hex": frame(StartupMessage("3.0.0", {}))})
    out.append({"name": "startup_lz4", "stream": 1, "hex": frame(StartupMessage("3.0.0", {"COMPRESSION": "lz4"}))})
    out.append({"name": "auth_response", "stream": 1, "user": "cassandra", "password": "cassandra",
                "hex": frame(AuthResponseMessage(b"\x00cassandra\x00cassandra"))})
    out.append({"name": "prepare", "stream": 7, "query": "SELECT * FROM readstates.read_states WHERE user_id = ?",
                "hex": frame(PrepareMessage("SELECT * FROM readstates.read_states WHERE user_id = ?"), 7)})
    out.append({"name": "query_plain", "stream": 1, "query": "SELECT key FROM system.local", "consistency": 1,
                "hex": frame(QueryMessage("SELECT key FROM system.local", ConsistencyLevel.ONE))})
    q = "SELECT channel_id FROM readstates.read_states WHERE user_id = ?"
    out.append({"name": "query_paged", "stream": 300, "query": q, "consistency": 6, "values": [bigint(42).hex()],
                "page_size": 100, "paging_state": "0a0b0c", "timestamp": 1700000000000001,
                "hex": None})
    # The driver binds values of a QUERY through query_params; set them explicitly.
    m = QueryMessage(q, ConsistencyLevel.LOCAL_QUORUM, fetch_size=100, paging_state=b"\x0a\x0b\x0c", timestamp=1700000000000001)
    m.query_params = [bigint(42)]
    out[-1]["hex"] = frame(m, 300)
    out.append({"name": "execute", "stream": 1, "id": "aabb", "consistency": 6, "values": [bigint(1).hex(), None],
                "timestamp": 123,
                "hex": frame(ExecuteMessage(b"\xaa\xbb", [bigint(1), None], ConsistencyLevel.LOCAL_QUORUM, timestamp=123))})
    out.append({"name": "execute_unset", "stream": 2, "id": "0102030405060708090a0b0c0d0e0f10", "consistency": 10,
                "values": [bigint(-2).hex(), "unset", struct.pack(">i", 7).hex()], "page_size": 5000,
                "hex": frame(ExecuteMessage(bytes(range(1, 17)), [bigint(-2), UNSET_VALUE, struct.pack(">i", 7)],
                                            ConsistencyLevel.LOCAL_ONE, fetch_size=5000), 2)})
    queries = [(True, b"\xaa\xbb", [bigint(1), bigint(2)]), (False, "UPDATE t SET a=1 WHERE k=2", [])]
    out.append({"name": "batch_unlogged", "stream": 1, "consistency": 6, "timestamp": 1700000000000000,
                "statements": [{"id": "aabb", "values": [bigint(1).hex(), bigint(2).hex()]},
                               {"query": "UPDATE t SET a=1 WHERE k=2", "values": []}],
                "hex": frame(BatchMessage(BatchType.UNLOGGED, queries, ConsistencyLevel.LOCAL_QUORUM, timestamp=1700000000000000))})
    queries = [(True, b"\x01\x02\x03", [bigint(5), UNSET_VALUE, None, b"\xff"]), (True, b"\x04\x05", [bigint(5), bigint(9)])]
    out.append({"name": "batch_unset", "stream": 9, "consistency": 6, "timestamp": 1,
                "statements": [{"id": "010203", "values": [bigint(5).hex(), "unset", None, "ff"]},
                               {"id": "0405", "values": [bigint(5).hex(), bigint(9).hex()]}],
                "hex": frame(BatchMessage(BatchType.UNLOGGED, queries, ConsistencyLevel.LOCAL_QUORUM, timestamp=1), 9)})
    return out


def values():
    ts = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    u = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
    text_set = cqltypes.lookup_casstype("SetType(UTF8Type)")
    int_list = cqltypes.lookup_casstype("ListType(Int32Type)")
    out = []
    for v in [0, 1, -1, -2, 2**63 - 1, -2**63, 1234567890123456789]:
        out.append({"type": "bigint", "value": str(v), "hex": ser(cqltypes.LongType, v)})
    for v in [0, 1, -1, 2**31 - 1, -2**31]:
        out.append({"type": "int", "value": str(v), "hex": ser(cqltypes.Int32Type, v)})
    for v in [0, 5, -1, 127, -128]:
        out.append({"type": "tinyint", "value": str(v), "hex": ser(cqltypes.ByteType, v)})
    for v in [True, False]:
        out.append({"type": "boolean", "value": str(v).lower(), "hex": ser(cqltypes.BooleanType, v)})
    out.append({"type": "timestamp", "value": "1704067200000", "hex": ser(cqltypes.DateType, ts)})
    out.append({"type": "timestamp", "value": "-1", "hex": ser(cqltypes.DateType, -1)})
    for v in ["", "test", "kremówki", "日本"]:
        out.append({"type": "varchar", "value": v, "hex": ser(cqltypes.UTF8Type, v)})
    out.append({"type": "blob", "value": "00ff10", "hex": ser(cqltypes.BytesType, b"\x00\xff\x10")})
    out.append({"type": "uuid", "value": str(u), "hex": ser(cqltypes.UUIDType, u)})
    for v in ["127.0.0.1", "10.1.2.3", "::1"]:
        out.append({"type": "inet", "value": v, "hex": ser(cqltypes.InetAddressType, v)})
    out.append({"type": "set<varchar>", "value": ["a", "bc"], "hex": ser(text_set, ["a", "bc"])})
    out.append({"type": "set<varchar>", "value": [], "hex": ser(text_set, [])})
    out.append({"type": "list<int>", "value": [1, 2], "hex": ser(int_list, [1, 2])})
    for v in [0, 1, 127, 128, -128, -129, 255, 65536]:
        out.append({"type": "varint", "value": str(v), "hex": ser(cqltypes.IntegerType, v)})
    return out


def tokens():
    rng = random.Random(20240101)
    out = []
    for v in [0, 1, 42, -1, 1234567890123456789, 2**63 - 1, -2**63] + [rng.randrange(-2**63, 2**63) for _ in range(40)]:
        out.append({"key": bigint(v).hex(), "bigint": str(v), "token": str(Murmur3Token.hash_fn(bigint(v)))})
    for n in list(range(0, 40)) + [63, 64, 65, 200]:
        key = bytes(rng.randrange(256) for _ in range(n))
        out.append({"key": key.hex(), "token": str(Murmur3Token.hash_fn(key))})
    for s in ["test", "kremówki"]:
        out.append({"key": s.encode().hex(), "text": s, "token": str(Murmur3Token.hash_fn(s.encode()))})
    return out


def shard_of(token, nr, msb):
    # ScyllaDB's biased-token-round-robin (docs/dev/protocol-extensions.md), written independently of the C# code.
    biased = (token + 2**63) % 2**64
    biased = (biased << msb) % 2**64
    return (biased * nr) >> 64


def shards():
    rng = random.Random(7)
    out = []
    cases = [(-9219783007514621794, 4, 12), (9222582454147032830, 4, 12), (Murmur3Token.hash_fn(bigint(42)), 12, 12)]
    for _ in range(40):
        cases.append((rng.randrange(-2**63, 2**63), rng.choice([1, 2, 3, 7, 8, 12, 16, 64]), rng.choice([0, 8, 12])))
    for t, nr, msb in cases:
        out.append({"token": str(t), "shards": nr, "ignore_msb": msb, "shard": shard_of(t, nr, msb)})
    return out


def main():
    doc = {
        "generator": "scripts/cql/gen_vectors.py",
        "driver": "cassandra-driver (python3-cassandra) " + driver_version,
        "protocol_version": V4,
        "frames": frames(),
        "values": values(),
        "tokens": tokens(),
        "shards": shards(),
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}: {len(doc['frames'])} frames, {len(doc['values'])} values, "
          f"{len(doc['tokens'])} tokens, {len(doc['shards'])} shards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
