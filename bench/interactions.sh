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
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-32}
duration=${2:-20s}
wrk_threads=${3:-1}
payload=${4:-about}
case "$payload" in
  about) fixture=command_no_options.json ;;
  ping) fixture=ping.json ;;
  *) echo "PAYLOAD must be about or ping, got \"$payload\"" >&2; exit 2 ;;
esac

scripts/install-deps.sh --test >/dev/null
source bench/lib.sh
prepare_mando
$mando keys generate > "$work/keys"
public_key=$(sed -n 's/^public_key=//p' "$work/keys")
sed -n 's/^secret_key=//p' "$work/keys" > "$work/secret"
cp "tests/data/discord/$fixture" "$work/body.json"
timestamp=$(date +%s)
signature=$($mando keys sign --secret-key-file "$work/secret" --timestamp "$timestamp" \
  < "$work/body.json")

start_mando MANDO_DISCORD_PUBLIC_KEY="$public_key"

# Interactions mando answered so far, from its own counter.
answered() {
  curl -fsS "$url/metrics" |
    awk '/^mando_http_requests_total\{route="\/interactions"/ { n += $2 } END { print n + 0 }'
}

echo "mando $($mando version | cut -d' ' -f2), io_threads=default (one per core), load $(load)"
export MANDO_BENCH_BODY_FILE="$work/body.json" MANDO_BENCH_SIGNATURE=$signature \
  MANDO_BENCH_TIMESTAMP=$timestamp
# Warm-up, so the idle figure includes what the first requests allocate.
wrk -t1 -c4 -d2s -s bench/interactions.lua "$url" >/dev/null
echo "idle RSS after warm-up: $(mib VmRSS) MiB"
echo "wrk -t$wrk_threads -c$connections -d$duration --latency (POST /interactions, signed $payload)"
requests_before=$(answered)
cpu_before=$(cpu_ticks)
wrk -t"$wrk_threads" -c"$connections" -d"$duration" -s bench/interactions.lua "$url" \
  | sed -n '/^requests\/s/,$p'
cpu_after=$(cpu_ticks)
requests=$(( $(answered) - requests_before ))
awk -v b="$cpu_before" -v a="$cpu_after" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {
  split(b, x); split(a, y)
  user = (y[1] - x[1]) / hz; sys = (y[2] - x[2]) / hz
  printf "mando CPU: %.2f s user + %.2f s system for %d requests = %.1f us per request\n",
    user, sys, n, (user + sys) * 1e6 / n
}'
echo "peak RSS: $(mib VmHWM) MiB"
