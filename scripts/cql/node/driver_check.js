'use strict';
// Checks a CQL server's framing with the DataStax Node.js driver (npm cassandra-driver).
// Usage: node scripts/cql/node/driver_check.js HOST PORT [USER PASSWORD]
// (run `npm ci` in scripts/cql/node first). Creates the readstates schema, prepares an INSERT, writes
// 25 rows of one partition and reads them back 10 per page; prints "driver_check node OK ..." and
// exits 0, or prints the failure and exits 1.
const cassandra = require('cassandra-driver');

async function main() {
  const [host, port, user, password] = process.argv.slice(2);
  const client = new cassandra.Client({
    contactPoints: [`${host}:${port}`],
    localDataCenter: 'dc1',
    protocolOptions: { port: Number(port), maxVersion: 4 },
    authProvider: user ? new cassandra.auth.PlainTextAuthProvider(user, password) : undefined,
    isMetadataSyncEnabled: false,
    socketOptions: { connectTimeout: 5000, readTimeout: 10000 },
    queryOptions: { consistency: cassandra.types.consistencies.localQuorum, prepare: true },
  });
  try {
    await client.connect();
    await client.execute("CREATE KEYSPACE IF NOT EXISTS readstates WITH replication = " +
      "{'class': 'SimpleStrategy', 'replication_factor': 1} AND tablets = {'enabled': false}", [], { prepare: false });
    await client.execute('CREATE TABLE IF NOT EXISTS readstates.read_states (user_id bigint, channel_id bigint, ' +
      'last_message_id bigint, mention_count int, mention_ids blob, type tinyint, parent_id bigint, flags int, ' +
      'last_pin_timestamp timestamp, last_viewed int, version bigint, PRIMARY KEY ((user_id), channel_id))', [], { prepare: false });
    const insert = 'INSERT INTO readstates.read_states (user_id, channel_id, last_message_id, mention_count, mention_ids, version) ' +
      'VALUES (?, ?, ?, ?, ?, ?)';
    const user = cassandra.types.Long.fromNumber(5151);
    for (let c = 25; c >= 1; c--) {
      const L = cassandra.types.Long.fromNumber;
      await client.execute(insert, [user, L(c), L(c * 1000), c % 3, Buffer.from([c]), L(c)]);
    }
    const select = 'SELECT channel_id, last_message_id, mention_count, mention_ids, version FROM readstates.read_states WHERE user_id = ?';
    const rows = [];
    let pageState;
    let pages = 0;
    do {
      const rs = await client.execute(select, [user], { fetchSize: 10, pageState, autoPage: false });
      rows.push(...rs.rows);
      pageState = rs.pageState;
      pages++;
      if (pages > 100) throw new Error('paging did not end');
    } while (pageState);
    if (rows.length !== 25 || pages !== 3) throw new Error(`got ${rows.length} rows in ${pages} pages`);
    rows.forEach((r, i) => {
      const c = i + 1;
      if (r.channel_id.toNumber() !== c || r.last_message_id.toNumber() !== c * 1000 || r.mention_count !== c % 3 ||
          r.mention_ids[0] !== c || r.version.toNumber() !== c) {
        throw new Error(`row ${i} wrong: ${JSON.stringify(r)}`);
      }
    });
    const local = await client.execute("SELECT cluster_name FROM system.local WHERE key='local'", [], { prepare: false });
    console.log(`driver_check node OK rows=${rows.length} pages=${pages} cluster=${local.first().cluster_name}`);
    return 0;
  } catch (e) {
    console.log(`driver_check node FAILED: ${e && e.stack ? e.stack : e}`);
    return 1;
  } finally {
    await client.shutdown();
  }
}

main().then((code) => process.exit(code));
