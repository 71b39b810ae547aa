#!/usr/bin/python3
"""Checks a CQL server's framing with the DataStax Python driver (Debian python3-cassandra).

Usage: /usr/bin/python3 scripts/cql/driver_check.py HOST PORT [USER PASSWORD]
Connects with protocol v4, creates the readstates schema, prepares an INSERT, writes 25 rows of one
partition and reads them back 10 per page. Prints "driver_check python OK rows=25 pages=3" and exits 0,
or prints the failure and exits 1. The ReadStates tests run it against the loopback test server.
"""
import sys

from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.policies import RoundRobinPolicy
from cassandra.query import SimpleStatement


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    auth = PlainTextAuthProvider(sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), consistency_level=ConsistencyLevel.LOCAL_QUORUM,
                               request_timeout=10)
    cluster = Cluster([host], port=port, protocol_version=4, auth_provider=auth, compression=False,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile}, schema_metadata_enabled=False,
                      token_metadata_enabled=False, connect_timeout=5, control_connection_timeout=5,
                      max_schema_agreement_wait=5)
    try:
        session = cluster.connect()
        session.execute("CREATE KEYSPACE IF NOT EXISTS readstates WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1} AND tablets = {'enabled': false}")
        session.execute("CREATE TABLE IF NOT EXISTS readstates.read_states (user_id bigint, channel_id bigint, "
                        "last_message_id bigint, mention_count int, mention_ids blob, type tinyint, parent_id bigint, "
                        "flags int, last_pin_timestamp timestamp, last_viewed int, version bigint, "
                        "PRIMARY KEY ((user_id), channel_id))")
        insert = session.prepare("INSERT INTO readstates.read_states (user_id, channel_id, last_message_id, mention_count, "
                                 "mention_ids, version) VALUES (?, ?, ?, ?, ?, ?)")
        assert insert.routing_key_indexes == [0], insert.routing_key_indexes
        user = 4242
        for channel in range(25, 0, -1):
            session.execute(insert, (user, channel, channel * 1000, channel % 3, bytes([channel]), channel))
        select = session.prepare("SELECT channel_id, last_message_id, mention_count, mention_ids, version "
                                 "FROM readstates.read_states WHERE user_id = ?")
        select.fetch_size = 10
        result = session.execute(select, (user,))
        rows, pages = [], 1
        rows.extend(result.current_rows)
        while result.has_more_pages:
            result.fetch_next_page()
            rows.extend(result.current_rows)
            pages += 1
            if pages > 100:
                raise AssertionError("paging did not end")
        got = [(r.channel_id, r.last_message_id, r.mention_count, r.mention_ids, r.version) for r in rows]
        want = [(c, c * 1000, c % 3, bytes([c]), c) for c in range(1, 26)]
        assert got == want, got
        assert pages == 3, pages
        local = session.execute(SimpleStatement("SELECT cluster_name FROM system.local WHERE key='local'")).one()
        assert local.cluster_name, local
        print(f"driver_check python OK rows={len(rows)} pages={pages} cluster={local.cluster_name}")
        return 0
    except Exception as e:  # noqa: BLE001 - report anything as a failed check
        print(f"driver_check python FAILED: {type(e).__name__}: {e}")
        return 1
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
