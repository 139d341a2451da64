#!/usr/bin/env bash
# perf of both gateways in one capture-ab round (issue 16): where B's extra CPU per request goes, by
# thread and by module (bench/perf-split.ts). Needs root and perf (Debian's linux-perf, which
# bench/install.sh installs; this VM has no hardware counters, so it samples cpu-clock).
#
#   bash bench/perf-capture-ab.sh [out dir=/tmp/perf-capture-ab] [seconds=6]
#
# Environment as capture-ab's (BENCH_TOLLGATE_ROOT=<export>, CAPTURE_AB_CAPTURE, CAPTURE_AB_COMPARE,
# CAPTURE_AB_GOVERNANCE...). Runs one round of 8 s after capture-ab's 14 s warm-up, with node's
# --perf-basic-prof, and records both gateway processes for <seconds> from 15 s after they start.
set -euo pipefail
out=${1:-/tmp/perf-capture-ab}
seconds=${2:-6}
command -v perf >/dev/null || { echo "perf is missing: bash bench/install.sh (or apt-get install linux-perf)" >&2; exit 1; }
mkdir -p "$out"
cd "$(dirname "$0")/.."
CAPTURE_AB_EARLY=0 CAPTURE_AB_NODE_ARGS=--perf-basic-prof node --import tsx bench/capture-ab.ts 1 8 >"$out/ab.log" 2>&1 &
ab=$!
pid_of() { pgrep -f "tollgate.js dev -f .*/r1-$1/manifests" | head -1 || true; }
for _ in $(seq 120); do
  a=$(pid_of A); b=$(pid_of B)
  [ -n "$a" ] && [ -n "$b" ] && break
  sleep 0.5
done
[ -n "${a:-}" ] && [ -n "${b:-}" ] || { echo "the gateways did not start: $out/ab.log" >&2; wait $ab; exit 1; }
sleep 15
perf record -e cpu-clock -F 997 -g -p "$a" -o "$out/A.data" -- sleep "$seconds" >/dev/null 2>&1 &
perf record -e cpu-clock -F 997 -g -p "$b" -o "$out/B.data" -- sleep "$seconds" >/dev/null 2>&1 &
wait %2 %3
wait $ab
for side in A B; do perf script -i "$out/$side.data" -F tid,ip,sym,dso >"$out/$side.txt" 2>/dev/null; done
grep '^round' "$out/ab.log"
rate_a=$(grep -oP 'A \([^)]*\) \K[0-9]+(?= req/s)' "$out/ab.log" | head -1)
rate_b=$(grep -oP 'B \([^)]*\) \K[0-9]+(?= req/s)' "$out/ab.log" | head -1)
node --import tsx bench/perf-split.ts "$out/A.txt" "$rate_a" "$out/B.txt" "$rate_b" "$seconds"
