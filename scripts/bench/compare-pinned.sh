#!/usr/bin/env bash
# One round of issue 7's comparison: a fresh ReadStates on core 1, Redis on core 1, the generator on core 0.
#   scripts/bench/compare-pinned.sh LABEL [SERVICE_DLL] [-- extra compare options]
# SERVICE_DLL defaults to this tree's Release build; pass another build's ReadStates.dll for a before/after.
# Needs redis-server (apt-get install -y redis-server) and `dotnet build -c Release` of ReadStates and the bench.
# Writes bench-results/issue7/LABEL-*.json and prints compare's tables; /proc/loadavg before and after.
# Env: RATES (2000,5000,10000), DURATION (20s), WARMUP (5s), SERVER_ARGS (extra service settings, e.g.
# "--Engine:FlushInterval=30s"), SERVER_ENV (extra environment for the service, e.g. "DOTNET_GCgen0size=0x4000000").
set -euo pipefail
command -v redis-server > /dev/null || { echo "compare-pinned: redis-server is not installed (apt-get install -y redis-server)" >&2; exit 2; }
label=$1; shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dll="$root/ReadStates/bin/Release/net10.0/ReadStates.dll"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then dll=$1; shift; fi
[ "${1:-}" = "--" ] && shift
port=${RS_PORT:-5077}; rport=${REDIS_PORT:-6399}
data="$(mktemp -d "${TMPDIR:-/tmp}/rs-compare.XXXXXX")"
# shellcheck disable=SC2086 # SERVER_ENV and SERVER_ARGS are word lists on purpose
env ${SERVER_ENV:-} taskset -c 1 dotnet "$dll" ${SERVER_ARGS:-} --Urls "http://127.0.0.1:$port" --Storage:RocksDb:Path "$data" --Metrics:Enabled false \
  --Logging:LogLevel:Default=Warning > "$data/service.log" 2>&1 &
rs=$!
taskset -c 1 redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no > "$data/redis.log" 2>&1 &
redis=$!
trap 'kill $rs $redis 2>/dev/null; wait $rs $redis 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.1; done
echo "loadavg before: $(cat /proc/loadavg)"
taskset -c 0 dotnet "$root/ReadStates.Bench/bin/Release/net10.0/ReadStates.Bench.dll" compare \
  --target "http://127.0.0.1:$port" --peer "redis://127.0.0.1:$rport" --server-pid $rs --peer-pid $redis \
  --users 20k --channels 50 --zipf 0.99 --mix ack=60,mention=30,get=10 --fanout 5 --get-channels 10 \
  --rates "${RATES:-2000,5000,10000}" --duration "${DURATION:-20s}" --warmup "${WARMUP:-5s}" --no-progress \
  --out "$root/bench-results/issue7" --name "$label" "$@" || echo "compare exited non-zero (a target failed every request: see above)"
echo "loadavg after: $(cat /proc/loadavg)"
