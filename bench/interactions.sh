#!/usr/bin/env bash
# Load test of the signed interactions endpoint: builds the release preset, starts
# `mando serve` on a free loopback port with a fresh development key, and runs wrk with
# bench/interactions.lua. Prints requests/s, latency percentiles, idle and peak RSS.
#
#   bench/interactions.sh [CONNECTIONS=32] [DURATION=20s] [WRK_THREADS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-32}
duration=${2:-20s}
wrk_threads=${3:-1}

scripts/install-deps.sh --test >/dev/null
source bench/lib.sh
prepare_mando
$mando keys generate > "$work/keys"
public_key=$(sed -n 's/^public_key=//p' "$work/keys")
sed -n 's/^secret_key=//p' "$work/keys" > "$work/secret"
cp tests/data/discord/command_no_options.json "$work/body.json"
timestamp=$(date +%s)
signature=$($mando keys sign --secret-key-file "$work/secret" --timestamp "$timestamp" \
  < "$work/body.json")

start_mando MANDO_DISCORD_PUBLIC_KEY="$public_key"

echo "mando $($mando version | cut -d' ' -f2), io_threads=default (one per core)"
# Warm-up, so the idle figure includes what the first requests allocate.
MANDO_BENCH_BODY_FILE="$work/body.json" MANDO_BENCH_SIGNATURE=$signature \
  MANDO_BENCH_TIMESTAMP=$timestamp wrk -t1 -c4 -d2s -s bench/interactions.lua "$url" >/dev/null
echo "idle RSS after warm-up: $(mib VmRSS) MiB"
echo "wrk -t$wrk_threads -c$connections -d$duration --latency (POST /interactions, signed /about)"
MANDO_BENCH_BODY_FILE="$work/body.json" MANDO_BENCH_SIGNATURE=$signature \
  MANDO_BENCH_TIMESTAMP=$timestamp \
  wrk -t"$wrk_threads" -c"$connections" -d"$duration" -s bench/interactions.lua "$url" \
  | sed -n '/^requests\/s/,$p'
echo "peak RSS: $(mib VmHWM) MiB"
