#!/usr/bin/env bash
# Load test of the signed interactions endpoint: builds the release preset, starts
# `mando serve` on a free loopback port with a fresh development key, and runs wrk with
# bench/interactions.lua. Prints requests/s, latency percentiles, mando's CPU time per request
# (user + system, from /proc/PID/stat, divided by the requests wrk counted), idle and peak RSS.
#
#   bench/interactions.sh [CONNECTIONS=32] [DURATION=20s] [WRK_THREADS=1] [PAYLOAD=about]
#
# PAYLOAD: about (an APPLICATION_COMMAND, /about) or ping (the PING Discord sends to check the
# endpoint, the cheapest signed interaction: verify, parse, {"type":1}).
# BENCH_MANDO_ENV="NAME=VALUE ..." adds settings to mando's environment (for example
# MANDO_SERVER_IO_THREADS=1 to compare thread counts).
# BENCH_PEER=flask then measures, in the same run and with the same load, the peer of
# bench/peer/flask_interactions.py (Flask + PyNaCl, gunicorn with 2 workers; install it with
# scripts/install-deps.sh --peers) and prints both side by side.
# BENCH_PERF=FILE records a `perf record -g` profile of mando during the measured run into FILE
# (`perf report -i FILE --no-children` shows where the CPU went).
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-32}
duration=${2:-20s}
wrk_threads=${3:-1}
payload=${4:-about}
peer=${BENCH_PEER:-}
[[ -z "$peer" || "$peer" == flask ]] || { echo "BENCH_PEER must be flask, got \"$peer\"" >&2; exit 2; }
if [[ -n "$peer" ]]; then scripts/install-deps.sh --peers; else scripts/install-deps.sh --test; fi >/dev/null
source bench/lib.sh
prepare_mando
sign_interaction "$payload"
start_mando MANDO_DISCORD_PUBLIC_KEY="$public_key" ${BENCH_MANDO_ENV:-}

# Runs the measured load against TARGET and prints requests/s, latency and the CPU time per
# request of the processes PIDS (requests: what wrk counted, all answered 2xx unless it says
# otherwise). Sets $rps and $cpu_us.
measure() {
  local target=$1; shift
  local cpu_before cpu_after requests
  cpu_before=$(cpu_ticks "$@")
  bench_wrk -t"$wrk_threads" -c"$connections" -d"$duration" -s bench/interactions.lua "$target" \
    > "$work/wrk"
  cpu_after=$(cpu_ticks "$@")
  sed -n '/^requests\/s/,$p' "$work/wrk" | grep -v '^requests:'
  rps=$(sed -n 's/^requests\/s: //p' "$work/wrk")
  requests=$(sed -n 's/^requests: //p' "$work/wrk")
  awk -v b="$cpu_before" -v a="$cpu_after" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(b, x); split(a, y); user = (y[1] - x[1]) / hz; sys = (y[2] - x[2]) / hz
    printf "CPU: %.2f s user + %.2f s system for %d requests = %.1f us per request\n",
      user, sys, n, (user + sys) * 1e6 / n }' | tee "$work/cpu"
  cpu_us=$(sed -n 's/.* = \([0-9.]*\) us per request$/\1/p' "$work/cpu")
}

echo "mando $($mando version | cut -d' ' -f2), settings: ${BENCH_MANDO_ENV:-defaults}, load $(load)"
# Warm-up, so the idle figure includes what the first requests allocate.
bench_wrk -t1 -c4 -d2s -s bench/interactions.lua "$url" >/dev/null
echo "idle RSS after warm-up: $(mib VmRSS) MiB"
echo "wrk -t$wrk_threads -c$connections -d$duration --latency (POST /interactions, signed $payload)"
perf_pid=
if [[ -n "${BENCH_PERF:-}" ]]; then
  perf record -q -g -p "$pid" -o "$BENCH_PERF" &
  perf_pid=$!
fi
echo "== mando"
measure "$url" "$pid"
if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
echo "peak RSS: $(mib VmHWM) MiB"
[[ -n "$peer" ]] || exit 0

mando_rps=$rps mando_cpu_us=$cpu_us
start_flask_peer
bench_wrk -t1 -c4 -d2s -s bench/interactions.lua "$peer_url" >/dev/null
echo "== Flask + PyNaCl, gunicorn 2 sync workers ($(gunicorn --version 2>&1 | head -1)), load $(load)"
# shellcheck disable=SC2086  # one pid per word
measure "$peer_url" $peer_pids
awk -v mr="$mando_rps" -v mc="$mando_cpu_us" -v pr="$rps" -v pc="$cpu_us" 'BEGIN {
  printf "mando / Flask: %.1fx the requests/s, %.1fx less CPU per request\n", mr / pr, pc / mc }'
