#!/usr/bin/env bash
# Instructions per signed interaction, inside and outside libsodium's Ed25519 verify: runs
# `mando serve` under valgrind's callgrind, sends PAYLOAD with wrk for DURATION with
# instrumentation on, and divides the instruction counts by the requests mando counted.
# Instruction counts do not depend on the load of the machine (CPU time does), so they compare
# builds on a shared machine; they leave out the kernel (syscalls, loopback TCP).
#
#   bench/interactions_callgrind.sh [PAYLOAD=ping] [DURATION=20s]
#
# The profile stays in $BENCH_CALLGRIND_OUT (default /tmp/mando-interactions.callgrind);
# `callgrind_annotate --inclusive=yes FILE` shows it by inclusive cost.
set -euo pipefail
cd "$(dirname "$0")/.."
payload=${1:-ping}
duration=${2:-20s}
out=${BENCH_CALLGRIND_OUT:-/tmp/mando-interactions.callgrind}
command -v valgrind >/dev/null || { echo "valgrind is missing" >&2; exit 1; }

source bench/lib.sh
prepare_mando
sign_interaction "$payload"
rm -f "$out" "$out".*
BENCH_MANDO_PREFIX="valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$out" \
  start_mando MANDO_DISCORD_PUBLIC_KEY="$public_key"
bench_wrk -t1 -c8 -d3s -s bench/interactions.lua "$url" >/dev/null  # warm-up, not counted
before=$(interactions_answered)
callgrind_control -z "$pid" >/dev/null
callgrind_control -i on "$pid" >/dev/null
bench_wrk -t1 -c8 -d"$duration" -s bench/interactions.lua "$url" >/dev/null
callgrind_control -i off "$pid" >/dev/null
requests=$(( $(interactions_answered) - before ))
callgrind_control -d "$pid" >/dev/null
profile=$(ls -t "$out".* | head -1)
# Callgrind writes a last (empty: instrumentation is off) dump to $out when mando exits: stop
# mando first, so the measured part is what stays in $out.
kill "$pid"
wait "$pid" || true
pid=
mv "$profile" "$out"
rm -f "$out".*
callgrind_annotate --inclusive=yes "$out" > "$work/inclusive"
ir() { awk -v f="$1" 'index($0, f) { gsub(",", "", $1); print $1; exit }' "$work/inclusive"; }
total=$(ir "PROGRAM TOTALS")
verify=$(ir "crypto_sign_verify_detached")
awk -v t="$total" -v v="${verify:-0}" -v n="$requests" -v p="$payload" 'BEGIN {
  printf "%d signed %s interactions under callgrind\n", n, p
  printf "instructions per request: %.0f in all, %.0f in crypto_sign_verify_detached, %.0f outside it\n",
    t / n, v / n, (t - v) / n
}'
echo "top entries outside libsodium, own instructions per request (callgrind_annotate $out):"
callgrind_annotate "$out" | grep -v libsodium |
  awk -v n="$requests" 'match($0, /^ *[0-9,]+ \([^)]*\) +/) && ++k <= 25 {
    x = substr($0, 1, RLENGTH); sub(/\(.*/, "", x); gsub(/[ ,]/, "", x)
    printf "%8.0f  %s\n", x / n, substr($0, RLENGTH + 1, 140) }'
