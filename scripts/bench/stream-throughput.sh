#!/usr/bin/env bash
# Item 3 of issue 7: read-state updates per second through the Stream RPC, beside Redis running the same
# Lua scripts pipelined at the same batch sizes (bulk acks of 100 channels, mentions to 100 users).
# Server and Redis on core 1, generator on core 0. Extra service settings after the label:
#   scripts/bench/stream-throughput.sh LABEL [--Engine:FlushInterval=00:00:30 ...]
set -euo pipefail
label=$1; shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
port=${RS_PORT:-5078}; rport=${REDIS_PORT:-6398}
data="$(mktemp -d "${TMPDIR:-/tmp}/rs-stream.XXXXXX")"
taskset -c 1 dotnet "$root/ReadStates/bin/Release/net10.0/ReadStates.dll" --Urls "http://127.0.0.1:$port" --Storage:RocksDb:Path "$data" \
  --Metrics:Enabled false --Logging:LogLevel:Default=Warning "$@" > "$data/service.log" 2>&1 &
rs=$!
taskset -c 1 redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no > "$data/redis.log" 2>&1 &
redis=$!
trap 'kill $rs $redis 2>/dev/null; wait $rs $redis 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.1; done
echo "loadavg before: $(cat /proc/loadavg)"
taskset -c 0 dotnet "$root/ReadStates.Bench/bin/Release/net10.0/ReadStates.Bench.dll" compare --transport stream \
  --target "http://127.0.0.1:$port" --peer "redis://127.0.0.1:$rport" --server-pid $rs --peer-pid $redis \
  --users 20k --channels 100 --mix bulk=70,mention=30 --bulk-size 100 --fanout 100 \
  --rates "${RATES:-2000,5000,8000}" --duration "${DURATION:-15s}" --warmup "${WARMUP:-5s}" --no-progress \
  --out "$root/bench-results/issue7-stream" --name "$label" || echo "compare exited non-zero (a target failed every request: see above)"
echo "loadavg after: $(cat /proc/loadavg)"
