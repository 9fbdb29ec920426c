#!/usr/bin/env bash
# Load test of the signed interactions endpoint: builds the release preset, starts
# `mando serve` on a free loopback port with a fresh development key, and runs wrk with
# bench/interactions.lua. Prints requests/s, latency percentiles, mando's CPU time per request
# (user + system, from /proc/PID/stat, divided by the requests mando counted), idle and peak RSS.
#
#   bench/interactions.sh [CONNECTIONS=32] [DURATION=20s] [WRK_THREADS=1] [PAYLOAD=about]
#
# PAYLOAD: about (an APPLICATION_COMMAND, /about) or ping (the PING Discord sends to check the
# endpoint, the cheapest signed interaction: verify, parse, {"type":1}).
# BENCH_MANDO_ENV="NAME=VALUE ..." adds settings to mando's environment (for example
# MANDO_SERVER_IO_THREADS=1 to compare thread counts).
# BENCH_PERF=FILE records a `perf record -g` profile of mando during the measured run into FILE
# (`perf report -i FILE --no-children` shows where the CPU went).
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-32}
duration=${2:-20s}
wrk_threads=${3:-1}
payload=${4:-about}
scripts/install-deps.sh --test >/dev/null
source bench/lib.sh
prepare_mando
sign_interaction "$payload"
start_mando MANDO_DISCORD_PUBLIC_KEY="$public_key" ${BENCH_MANDO_ENV:-}

echo "mando $($mando version | cut -d' ' -f2), settings: ${BENCH_MANDO_ENV:-defaults}, load $(load)"
# Warm-up, so the idle figure includes what the first requests allocate.
bench_wrk -t1 -c4 -d2s -s bench/interactions.lua "$url" >/dev/null
echo "idle RSS after warm-up: $(mib VmRSS) MiB"
echo "wrk -t$wrk_threads -c$connections -d$duration --latency (POST /interactions, signed $payload)"
requests_before=$(interactions_answered)
cpu_before=$(cpu_ticks)
perf_pid=
if [[ -n "${BENCH_PERF:-}" ]]; then
  perf record -q -g -p "$pid" -o "$BENCH_PERF" &
  perf_pid=$!
fi
bench_wrk -t"$wrk_threads" -c"$connections" -d"$duration" -s bench/interactions.lua "$url" \
  | sed -n '/^requests\/s/,$p'
cpu_after=$(cpu_ticks)
if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
requests=$(( $(interactions_answered) - requests_before ))
awk -v b="$cpu_before" -v a="$cpu_after" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {
  split(b, x); split(a, y)
  user = (y[1] - x[1]) / hz; sys = (y[2] - x[2]) / hz
  printf "mando CPU: %.2f s user + %.2f s system for %d requests = %.1f us per request\n",
    user, sys, n, (user + sys) * 1e6 / n
}'
echo "peak RSS: $(mib VmHWM) MiB"
