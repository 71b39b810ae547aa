#!/usr/bin/env bash
# Interleaved A/B of engine micro-benchmarks between two built trees, each run pinned to core 1.
#   scripts/bench/micro-ab.sh BEFORE_TREE AFTER_TREE [ROUNDS=5] [FILTER='*AckResident.Engine*'] [MORE_FILTERS...]
# Each tree needs `dotnet build -c Release ReadStates.Bench` (e.g. git worktree add /tmp/before d4d3cbe).
# Prints each round's medians per side; reports land in bench-results/micro-ab/{before,after}-N.
# JOB (default medium: 10 warm-up and 15 measured iterations, ~70 s per side for AckResident) is the
# BenchmarkDotNet job. ShortRun's 3 warm-ups are not enough on a pinned core: a fresh process can run its
# hot loop at tier-0/OSR speed for 2-4 s, and those slow iterations landed in ShortRun's measured ones.
set -euo pipefail
job=${JOB:-medium}
before=$1; after=$2; rounds=${3:-5}; filter=${4:-'*AckResident.Engine*'}; shift $(( $# < 4 ? $# : 4 ))
out="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bench-results/micro-ab"
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for side in before after; do
    tree=$before; [ "$side" = after ] && tree=$after
    dir="$out/$side-$r"; rm -rf "$dir"
    (cd "$tree" && taskset -c 1 dotnet ReadStates.Bench/bin/Release/net10.0/ReadStates.Bench.dll micro --job "$job" --filter "$filter" \
      --no-check --artifacts "$dir" -- "$@" > "$dir.log" 2>&1)
    # Per Engine row: its parameters and its Median (found by header: the columns differ between builds and benchmarks).
    printf '%-6s round %s: %s\n' "$side" "$r" "$(for f in "$dir"/results/*.md; do tr -d '*' < "$f" | awk -F'|' -v b="$(basename "$f" | sed 's/-report-github.md//; s/.*\.//')" '
      /^\| *Method/ { for (i = 1; i <= NF; i++) { h = $i; gsub(/ /, "", h); if (h == "Median") m = i; if (h == "Mean") p = i } next }
      $2 ~ /Engine/ { ps = ""; for (i = 3; i < p; i++) { v = $i; gsub(/ /, "", v); ps = ps (ps == "" ? "" : ",") v }
                      printf "%s%s=%s  ", b, (ps == "" ? "" : "(" ps ")"), $m }'; done)"
  done
done
