#!/usr/bin/env bash
# The /imagine benchmark (issue 13): bench/imagine_load.cpp hosts the Discord emulator and the
# fake GPU provider and sends JOBS /imagine interactions at RATE per second to a `mando serve`
# it starts as a child; it reports webhook receipt -> Discord edit (p50/p99, the output
# download apart), mando's RSS per job in flight and anything lost (see the top of
# bench/imagine_load.cpp for the method).
#
#   bench/imagine.sh [JOBS=1000] [RATE=100] [imagine_load flags...]
#   e.g. bench/imagine.sh 1000 100 --hold 10000
#
# Builds mando and imagine_load with the bench preset in BENCH_BUILD_DIR (default build/bench),
# -j2, unless BENCH_MANDO_BIN and BENCH_IMAGINE_BIN name the binaries.
set -euo pipefail

cd "$(dirname "$0")/.."
jobs=${1:-1000} rate=${2:-100}
shift $(($# < 2 ? $# : 2))

build=${BENCH_BUILD_DIR:-build/bench}
mando=${BENCH_MANDO_BIN:-}
load=${BENCH_IMAGINE_BIN:-}
if [[ -z "$mando" || -z "$load" ]]; then
  cmake --preset bench -B "$build" >/dev/null
  cmake --build "$build" --target mando imagine_load -j2 >/dev/null
  mando=${mando:-$build/src/app/mando}
  load=${load:-$build/bench/imagine_load}
fi

echo "machine: $(nproc) cores, $(awk '/model name/ { $1=$2=$3=""; print; exit }' /proc/cpuinfo)," \
  "$(awk '/MemTotal/ { printf "%d GiB", $2 / 1048576 }' /proc/meminfo)"
echo "mando $($mando version | cut -d' ' -f2), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$load" --mando "$mando" --jobs "$jobs" --rate "$rate" "$@"
