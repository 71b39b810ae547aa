#!/usr/bin/env bash
# Interleaved A/B of engine micro-benchmarks between two built trees, each run pinned to core 1.
#   scripts/bench/micro-ab.sh BEFORE_TREE AFTER_TREE [ROUNDS=5] [FILTER='*AckResident.Engine*'] [MORE_FILTERS...]
# Each tree needs `dotnet build -c Release ReadStates.Bench` (e.g. git worktree add /tmp/before d4d3cbe).
# Prints each round's medians per side; reports land in bench-results/micro-ab/{before,after}-N.
set -euo pipefail
before=$1; after=$2; rounds=${3:-5}; filter=${4:-'*AckResident.Engine*'}; shift $(( $# < 4 ? $# : 4 ))
out="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bench-results/micro-ab"
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for side in before after; do
    tree=$before; [ "$side" = after ] && tree=$after
    dir="$out/$side-$r"; rm -rf "$dir"
    (cd "$tree" && taskset -c 1 dotnet ReadStates.Bench/bin/Release/net10.0/ReadStates.Bench.dll micro --filter "$filter" \
      --no-check --artifacts "$dir" -- "$@" > "$dir.log" 2>&1)
    printf '%-6s round %s: %s\n' "$side" "$r" "$(grep -h '^|' "$dir"/results/*.md | tr -d '*' | awk -F'|' '$2 ~ /Engine/ {printf "%s=%s  ", $3, $7}')"
  done
done
