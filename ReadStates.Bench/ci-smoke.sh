#!/usr/bin/env bash
# CI smoke test of the benchmark suite: build it, then one quick, tiny invocation of each mode, so every
# mode keeps working. Timings are never asserted. Exits non-zero when a mode fails.
#   micro   : one benchmark, the shortest job, allocation budgets checked
#   memory  : 100k states, 2 s loop (engine and class-per-state baseline)
#   load    : 2 s at a low rate against a ReadStates service started here (127.0.0.1, temp data dir),
#             when the gRPC host is in this tree
#   watch   : 2,000 Watch subscribers and 2 s of load against that service, then the in-process memory run
#   load    : also over the Stream RPC (--transport stream)
#   alloc   : server bytes per request per op through the real host, service-allocation-budgets.json checked
#   gc      : fill 100k states through the API, a few seconds of load, GC pauses from runtime events
#   compare : only when redis-server or garnet-server (dotnet tool) is installed
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work="$(mktemp -d "${TMPDIR:-/tmp}/readstates-bench-smoke.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step() { echo; echo "== bench smoke: $*"; }
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
wait_port() { # port, seconds
  for _ in $(seq 1 $(($2 * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1 after $2 s" >&2
  return 1
}

step "build"
dotnet build ReadStates.Bench -c Release --nologo -v q -clp:ErrorsOnly
bench=(dotnet ReadStates.Bench/bin/Release/net10.0/ReadStates.Bench.dll)
for mode in micro load memory compare watch; do "${bench[@]}" "$mode" --help > /dev/null; done

step "micro (one benchmark, quick job)"
timeout 300 "${bench[@]}" micro --quick --filter '*AckResident.Engine*' --artifacts "$work/micro" \
  | grep -E '^\| |budget|OVER|ok$'

step "memory (100k states)"
timeout 120 "${bench[@]}" memory --states 100k --duration 2s --out "$work/memory"

target=""
if [ -f ReadStates/Hosting/ReadStatesHost.cs ]; then
  step "load (ReadStates, 2 s at 200/s)"
  dotnet build ReadStates -c Release --nologo -v q -clp:ErrorsOnly
  port="$(free_port)"
  dotnet ReadStates/bin/Release/net10.0/ReadStates.dll --Urls "http://127.0.0.1:$port" \
    --Storage:RocksDb:Path "$work/data" --Metrics:Enabled false --Logging:LogLevel:Default=Warning > "$work/service.log" 2>&1 &
  pids+=($!)
  wait_port "$port" 60 || { cat "$work/service.log"; exit 1; }
  target="http://127.0.0.1:$port"
  timeout 60 "${bench[@]}" load --target "$target" --rate 200 --duration 2s --warmup 1s --users 10k \
    --connections 2 --out "$work/load" --no-progress

  step "watch (2,000 subscribers over 2 streams, 2 s at 200/s; then bytes per subscription in-process)"
  timeout 90 "${bench[@]}" watch --target "$target" --subscribers 2k --streams 2 --users 1000 --rate 200 --duration 2s \
    --warmup 1s --connections 2 --out "$work/watch" --no-progress
  timeout 90 "${bench[@]}" watch --memory --subscribers 2k --streams 2 | grep -v ' info: '
else
  step "load: skipped (the gRPC host is not in this tree yet)"
fi

if [ -n "$target" ]; then
  step "load (ReadStates, Stream transport, 2 s at 200/s)"
  timeout 60 "${bench[@]}" load --target "$target" --transport stream --mix bulk=50,mention=50 --rate 200 --duration 2s \
    --warmup 1s --users 10k --connections 2 --out "$work/load-stream" --no-progress
  step "alloc (server bytes per request through the host, budgets checked)"
  timeout 180 "${bench[@]}" alloc --requests 1000 --warmup 1000 --rounds 1 --users 100 --out "$work/alloc"
  step "gc (fill 100k states through the API, 6 s of load)"
  timeout 180 "${bench[@]}" gc --states 100k --duration 6s --interval 3s --warmup 1s --rate 300 --no-progress --out "$work/gc"
fi

peer=""
if command -v redis-server > /dev/null; then
  rport="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no > "$work/redis.log" 2>&1 &
  pids+=($!)
  peer="redis://127.0.0.1:$rport"
elif command -v garnet-server > /dev/null || [ -x "$HOME/.dotnet/tools/garnet-server" ]; then
  rport="$(free_port)"
  garnet="$(command -v garnet-server || echo "$HOME/.dotnet/tools/garnet-server")"
  "$garnet" --bind 127.0.0.1 --port "$rport" --lua -m 256m > "$work/garnet.log" 2>&1 &
  pids+=($!)
  peer="redis://127.0.0.1:$rport"
fi

if [ -n "$peer" ]; then
  wait_port "$rport" 30
  if [ -n "$target" ]; then
    step "compare (ReadStates vs $peer, 2 s at 200/s)"
    timeout 90 "${bench[@]}" compare --target "$target" --peer "$peer" --rates 200 --duration 2s --warmup 1s \
      --users 10k --connections 2 --out "$work/compare" --no-progress
  else
    step "load (Lua peer only, 2 s at 200/s)"
    timeout 60 "${bench[@]}" load --target "$peer" --rate 200 --duration 2s --warmup 1s --users 10k \
      --connections 2 --out "$work/load" --no-progress
  fi
else
  step "compare: skipped (neither redis-server nor garnet-server is installed)"
fi

echo
echo "bench smoke: every mode ran"
