#!/usr/bin/env bash
# Memory of `mando serve` holding a million pending tasks (issue 3: RSS at most 200 MB). Starts
# mando as bench/queue_rest.sh does, pauses a queue, enqueues TASKS tasks through the REST API
# as fast as wrk -t1 can (bench/queue_rest.lua stops once that many were created), and reports
# VmRSS and VmHWM of the mando process from /proc and the size of the database.
#
#   bench/queue_memory.sh [TASKS=1000000] [CONNECTIONS=32] [SYNCHRONOUS=normal]
# synchronous=normal by default: durability is not what this measures, and FULL's syncs only
# make the fill slower. BENCH_MANDO_BIN and TMPDIR as for bench/queue_rest.sh.
set -euo pipefail
source "$(dirname "$0")/queue_rest.sh"
cd "$(dirname "$0")/.."
tasks=${1:-1000000}
connections=${2:-32}
synchronous=${3:-normal}

start_queue_mando "$synchronous"
create_queue held paused
echo "idle: VmRSS $(mib VmRSS) MiB, VmHWM $(mib VmHWM) MiB; load average $(load)"

echo "enqueueing $tasks tasks into the paused queue (wrk -t1 -c$connections)"
start=$(date +%s.%N)
# wrk's duration is only a bound: the Lua script stops sending at $tasks, but wrk itself runs
# until its duration or a SIGINT, which it answers by printing its summary.
export MANDO_BENCH_STOP_AFTER=$tasks
start_wrk "$connections" 1h held "$url/healthz" "$work/wrk"
until (( $(answered) >= tasks + 2 )); do
  kill -0 $wrk_pid  # fail fast if wrk died
  sleep 0.5
done
kill -INT $wrk_pid
wait $wrk_pid
finished=$(date +%s.%N)
created=$(($(answered) - 2))  # mando's count: the queue's create and pause answered 200 too
awk -v n="$created" -v s="$start" -v f="$finished" \
  'BEGIN { printf "created %d tasks in %.1f s (%.0f/s)\n", n, f - s, n / (f - s) }'
grep -E '^(non-2xx|p99:)' "$work/wrk"
(( created >= tasks )) || { echo "only $created of $tasks tasks were created" >&2; exit 1; }
echo "with $created pending tasks: VmRSS $(mib VmRSS) MiB, VmHWM $(mib VmHWM) MiB;" \
  "load average $(load)"
echo "database directory: $(du -sh "$work/data" | cut -f1)"
