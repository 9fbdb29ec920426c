#!/usr/bin/env bash
# The task queue on PostgreSQL beside SQLite, on this machine, one run each (issue 14):
#   1. the stores alone (bench/queue_store_bench.cpp): durable enqueues from 32 producer threads
#      and lease + complete from 8 dispatchers, SQLite FULL beside PostgreSQL with
#      synchronous_commit = on;
#   2. dispatch lateness (bench/queue_bench.cpp BM_Lateness): 2,000 tasks due 5 ms apart, the
#      worker's receipt minus the schedule time, SQLite FULL beside PostgreSQL;
#   3. end to end over HTTP (bench/queue_rest.sh): REST enqueue into a paused queue, then
#      enqueue + dispatch + no-op worker over 16 queues, once with [queue] backend = "sqlite"
#      and once with "postgres".
# The PostgreSQL server is a throwaway cluster in $TMPDIR (initdb, fsync on, synchronous_commit
# on, a Unix socket only), run as the `postgres` user when this runs as root, stopped and
# removed at the end.
#
#   bench/queue_postgres.sh [DURATION=8s] [CONNECTIONS=32]
# BENCH_MANDO_BIN (a release mando) and TMPDIR as in bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-8s}
connections=${2:-32}

command -v pg_config >/dev/null || { echo "pg_config is missing: scripts/install-deps.sh --test" >&2; exit 1; }
bindir=$(pg_config --bindir)
as_owner() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cmake --preset bench >/dev/null
cmake --build --preset bench --target queue_store_bench queue_bench mando >/dev/null
export BENCH_MANDO_BIN=${BENCH_MANDO_BIN:-build/bench/src/app/mando}

pg=$(mktemp -d)
[[ $(id -u) -eq 0 ]] && chown postgres "$pg"
trap 'as_owner "$bindir/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$pg"' EXIT
as_owner "$bindir/initdb" -D "$pg/data" -U mando --auth=trust -E UTF8 --locale=C >/dev/null
as_owner "$bindir/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -o \
  "-k $pg -c listen_addresses='' -c fsync=on -c synchronous_commit=on -c shared_buffers=256MB -c max_connections=300" \
  start >/dev/null
url="host=$pg dbname=postgres user=mando"
MANDO_DATABASE_URL=$url "$BENCH_MANDO_BIN" db migrate
echo "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}'), data on $(df --output=source "$pg" | tail -1);" \
  "machine: $(nproc) cores, $(awk '/model name/ { $1=$2=$3=""; print; exit }' /proc/cpuinfo)"

echo "== 1. the stores alone (load $(cut -d' ' -f1-3 /proc/loadavg))"
MANDO_BENCH_PG_URL=$url build/bench/bench/queue_store_bench \
  --benchmark_filter='BM_CreateTask/store:[12]/.*threads:32|BM_LeaseAndComplete/store:[12]/'

echo "== 2. dispatch lateness (load $(cut -d' ' -f1-3 /proc/loadavg))"
MANDO_BENCH_PG_URL=$url build/bench/bench/queue_bench --benchmark_filter='BM_Lateness/full:[12]'

echo "== 3a. end to end over HTTP, SQLite (load $(cut -d' ' -f1-3 /proc/loadavg))"
bench/queue_rest.sh "$connections" "$duration" 16 full
echo "== 3b. end to end over HTTP, PostgreSQL (load $(cut -d' ' -f1-3 /proc/loadavg))"
MANDO_QUEUE_BACKEND=postgres MANDO_DATABASE_URL=$url bench/queue_rest.sh "$connections" "$duration" 16 full
