#!/usr/bin/env bash
# The /mando load benchmark (issue 6): bench/mando_load.cpp hosts the Discord emulator and sends
# /mando interactions at RATE per second for DURATION seconds, SIZE px each, to a `mando serve`
# it starts as a child; it reports acknowledgement latency, interaction-to-image latency,
# images per second and anything lost (see the top of bench/mando_load.cpp for the method).
#
#   bench/mando_load.sh [RATE=100] [DURATION=60] [SIZE=1024] [mando_load flags...]
#   e.g. bench/mando_load.sh 100 60 64 --label "no render load"
#
# Builds mando and mando_load with the bench preset in BENCH_BUILD_DIR (default build/bench),
# -j2, unless BENCH_MANDO_BIN and BENCH_LOAD_BIN name the binaries. TMPDIR chooses the disk of
# mando's data dir (a fresh one per run, removed afterwards).
set -euo pipefail

cd "$(dirname "$0")/.."
rate=${1:-100} duration=${2:-60} size=${3:-1024}
shift $(($# < 3 ? $# : 3))

build=${BENCH_BUILD_DIR:-build/bench}
mando=${BENCH_MANDO_BIN:-}
load=${BENCH_LOAD_BIN:-}
if [[ -z "$mando" || -z "$load" ]]; then
  cmake --preset bench -B "$build" >/dev/null
  cmake --build "$build" --target mando mando_load -j2 >/dev/null
  mando=${mando:-$build/src/app/mando}
  load=${load:-$build/bench/mando_load}
fi

echo "machine: $(nproc) cores, $(awk '/model name/ { $1=$2=$3=""; print; exit }' /proc/cpuinfo)," \
  "$(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo)"
echo "mando $($mando version | cut -d' ' -f2), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$load" --mando "$mando" --rate "$rate" --duration "$duration" --size "$size" "$@"
