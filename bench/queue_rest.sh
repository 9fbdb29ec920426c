#!/usr/bin/env bash
# Load tests of the task queue over its Cloud Tasks v2 REST API (issue 3). Starts the release
# `mando serve` on a free loopback port over a fresh database, then runs wrk with
# bench/queue_rest.lua:
#   1. enqueue: POST .../tasks into one paused queue (nothing is dispatched): requests/s and
#      latency of durable enqueues over HTTP;
#   2. end to end: POST tasks round-robin into QUEUES running queues whose tasks GET mando's own
#      /healthz (a no-op worker on the same server and cores); once wrk stops, waits until
#      mando_queue_attempts_total{outcome="ok"} counts every created task, and reports tasks/s
#      from the first request to the last completion.
# A queue dispatches at most 500 tasks/s (Cloud Tasks' cap on maxDispatchesPerSecond), so
# 5,000 tasks/s needs at least 10 queues.
#
#   bench/queue_rest.sh [CONNECTIONS=32] [DURATION=15s] [QUEUES=16] [SYNCHRONOUS=full]
# BENCH_MANDO_BIN and TMPDIR as in bench/lib.sh. bench/queue_memory.sh sources this file for its
# functions.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
api=/v2/projects/mando/locations/local/queues

# Starts mando with [queue] synchronous = $1 (lib.sh) and says where its database is.
start_queue_mando() {
  prepare_mando
  start_mando MANDO_QUEUE_SYNCHRONOUS="$1"
  echo "mando $($mando version | cut -d' ' -f2), [queue] synchronous=$1, database on" \
    "$(df --output=source "$work" | tail -1)"
}

# POST $2 (default {}) to the API path $1; fails on an error status.
api_post() {
  curl -sSf -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $api_token" \
    -d "${2:-{\}}" "$internal_url$1" >/dev/null
}

# Creates queue $1 with Cloud Tasks' defaults but at most 100 dispatches in flight (each holds
# a connection, both of whose ends are in mando here: 16 queues at the default 1000 would need
# 32,000 descriptors); paused when $2 is "paused".
create_queue() {
  api_post "$api" "{\"name\":\"projects/mando/locations/local/queues/$1\",
    \"rateLimits\":{\"maxConcurrentDispatches\":100}}"
  if [[ "${2:-}" == paused ]]; then api_post "$api/$1:pause"; fi
}

# Starts wrk -t1 with bench/queue_rest.lua in the background and sets wrk_pid (wrk's own, so
# a SIGINT reaches it): CONNECTIONS DURATION QUEUE-IDS (comma-separated) TASK-URL OUTPUT-FILE.
start_wrk() {
  MANDO_BENCH_API=$api MANDO_BENCH_QUEUES=$3 MANDO_BENCH_TASK_URL=$4 MANDO_BENCH_TOKEN=$api_token \
    wrk -t1 -c"$1" -d"$2" --timeout 10s -s bench/queue_rest.lua "$internal_url" > "$5" &
  wrk_pid=$!
}

# 200 answers of POST /v2/... so far (queues and tasks created, pauses): mando's count, which
# unlike wrk's also holds the requests still in flight when wrk stopped.
answered() {
  curl -sSf "$internal_url/metrics" | awk '/^mando_http_requests_total\{/ && /route="\/v2\/\*"/ &&
    /method="POST"/ && /status="200"/ { n += $NF } END { printf "%d", n }'
}

# Tasks whose dispatch ended with a 2xx, over every queue.
completed() {
  curl -sSf "$internal_url/metrics" |
    awk '/^mando_queue_attempts_total\{.*outcome="ok"/ { n += $NF } END { printf "%d", n }'
}

main() {
  cd "$(dirname "$0")/.."
  local connections=${1:-32} duration=${2:-15s} queues=${3:-16} synchronous=${4:-full}
  start_queue_mando "$synchronous"

  echo
  echo "1. enqueue: wrk -t1 -c$connections -d$duration, POST .../queues/enqueue/tasks (paused)"
  create_queue enqueue paused
  start_wrk 4 2s enqueue "$url/healthz" /dev/null  # warm-up: connections, caches, first pages
  wait $wrk_pid
  echo "load average before: $(load)"
  start_wrk "$connections" "$duration" enqueue "$url/healthz" "$work/wrk"
  wait $wrk_pid
  sed -n '/^requests\/s/,$p' "$work/wrk"
  echo "load average after: $(load)"

  echo
  echo "2. end to end: the same into $queues running queues, tasks GET $url/healthz"
  local ids=
  for i in $(seq 0 $((queues - 1))); do
    create_queue "e2e-$i"
    ids+=${ids:+,}e2e-$i
  done
  echo "load average before: $(load)"
  local start finished created before
  before=$(answered)
  start=$(date +%s.%N)
  start_wrk "$connections" "$duration" "$ids" "$url/healthz" "$work/wrk"
  wait $wrk_pid
  finished=$(date +%s.%N)
  sed -n '/^requests\/s/,$p' "$work/wrk"
  local during
  during=$(completed)
  awk -v n="$during" -v s="$start" -v f="$finished" \
    'BEGIN { printf "completed while wrk ran: %d (%.0f tasks/s)\n", n, n / (f - s) }'
  for _ in $(seq 1 6000); do  # at most 10 minutes
    created=$(($(answered) - before))
    (( $(completed) >= created )) && break
    sleep 0.1
  done
  local last
  last=$(date +%s.%N)
  (( $(completed) >= created )) || { echo "only $(completed) of $created completed" >&2; exit 1; }
  awk -v n="$created" -v s="$start" -v l="$last" \
    'BEGIN { printf "end to end: %d tasks created and completed in %.2f s: %.0f tasks/s\n", n, l - s, n / (l - s) }'
  echo "load average after: $(load)"
  echo "peak RSS: $(mib VmHWM) MiB"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
