#!/usr/bin/env bash
# The contract's checks, one line each ("ok", "FAIL" or "skip"):
#   buf lint       proto/ against buf.yaml (STANDARD, with the two justified exceptions);
#   buf breaking   proto/ against the contract as main had it: on a branch, where the branch left main
#                  (git merge-base); on main itself, the previous main (first parent). Override the
#                  baseline with BUF_AGAINST_REF=<git ref>. The baseline is exported with `git archive`, so
#                  it works in worktrees and on any clone that has the history.
# Needs `npm ci` in scripts/buf first (.ci/run does it). Exits 1 when a check fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
buf=scripts/buf/node_modules/.bin/buf
status=0

if "$buf" lint; then echo "ok   buf lint"; else echo "FAIL buf lint"; status=1; fi

base="${BUF_AGAINST_REF:-}"
if [ -z "$base" ]; then
  head=$(git rev-parse HEAD 2>/dev/null || true)
  main=$(git rev-parse -q --verify refs/heads/main 2>/dev/null || git rev-parse -q --verify refs/remotes/origin/main 2>/dev/null || true)
  if [ -n "$main" ] && [ "$main" != "$head" ]; then
    base=$(git merge-base HEAD "$main" 2>/dev/null || true)
  else
    base=$(git rev-parse -q --verify 'HEAD^1' 2>/dev/null || true)
  fi
fi
if [ -z "$base" ]; then
  echo "skip buf breaking: no earlier commit of main to compare with (shallow clone or first commit)"
elif ! git cat-file -e "$base:proto" 2>/dev/null; then
  echo "skip buf breaking: $base has no proto/ directory"
else
  against=$(mktemp -d "${TMPDIR:-/tmp}/readstates-buf.XXXXXX")
  trap 'rm -rf "$against"' EXIT
  git archive "$base" proto | tar -x -C "$against"
  if "$buf" breaking --against "$against/proto"; then
    echo "ok   buf breaking (wire and JSON) against $(git rev-parse --short "$base")"
  else
    echo "FAIL buf breaking against $(git rev-parse --short "$base"): readstates.v1 must stay wire- and JSON-compatible"
    status=1
  fi
fi
exit $status
