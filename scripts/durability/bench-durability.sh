#!/usr/bin/env bash
# One load run against a fresh service in the given durability mode (BENCHMARKS.md, "Durability").
# Server pinned to core 1, generator to core 0; the service logs its group-commit totals at stop.
# usage: scripts/durability/bench-durability.sh NAME deferred|durable WINDOW RATE MIX [DURATION] [PORT]
#   e.g. scripts/durability/bench-durability.sh s1-1000-durable durable 00:00:00 1000 ack=100 10s
set -u
name=$1 mode=$2 window=$3 rate=$4 mix=$5 dur=${6:-10s} port=${7:-5177}
root="$(cd "$(dirname "$0")/../.." && pwd)"
out=${OUT:-/tmp/durbench}
data=$out/data-$name
mkdir -p "$out"; rm -rf "$data"; mkdir -p "$data"
taskset -c 1 dotnet "$root/ReadStates/bin/Release/net10.0/ReadStates.dll" --urls=http://127.0.0.1:$port \
  --Storage:RocksDb:Path="$data" --Engine:Durability=$mode --Engine:GroupCommitWindow=$window \
  --Metrics:Enabled=false --Logging:LogLevel:Default=Warning --Logging:LogLevel:ReadStates.Core=Information \
  > "$out/server-$name.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.25; done
echo "load before: $(cat /proc/loadavg)" > "$out/$name.load"
taskset -c 0 dotnet "$root/ReadStates.Bench/bin/Release/net10.0/ReadStates.Bench.dll" load --target http://127.0.0.1:$port \
  --rate "$rate" --duration "$dur" --warmup 5s --mix "$mix" --no-progress --server-pid $pid --out "$out/out" --name "$name" \
  > "$out/$name.txt" 2>&1
echo "load after: $(cat /proc/loadavg)" >> "$out/$name.load"
kill -TERM $pid; wait $pid 2>/dev/null
grep -h "Change log stopped" "$out/server-$name.log" || true
rm -rf "$data"
