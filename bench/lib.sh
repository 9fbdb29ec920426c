# Shared by the bench/*.sh load tests (source it): build or find the release mando, start
# `mando serve` on a free loopback port over a fresh data dir, read /proc of it.
# BENCH_MANDO_BIN=path uses that binary instead of building the release preset; TMPDIR chooses
# the disk of the data dir.

pid=

# Sets $mando (building the release preset unless BENCH_MANDO_BIN is set) and $work, a temp dir
# removed, with mando stopped, when the script exits.
prepare_mando() {
  command -v wrk >/dev/null || { echo "wrk is missing: scripts/install-deps.sh --test" >&2; exit 1; }
  mando=${BENCH_MANDO_BIN:-}
  if [[ -z "$mando" ]]; then
    cmake --preset release >/dev/null
    cmake --build --preset release --target mando >/dev/null
    mando=build/release/src/app/mando
  fi
  work=$(mktemp -d)
  trap 'if [[ -n "$pid" ]]; then kill $pid 2>/dev/null || true; wait $pid || true; fi
        rm -rf "$work"' EXIT
}

# Starts `mando serve --listen 127.0.0.1:0 --data-dir $work/data` with the environment
# assignments given as arguments (NAME=VALUE ...); sets $pid, $url (the public listener),
# $internal_url (queue API, metrics) and $api_token (the queue API's token) once it listens.
# BENCH_MANDO_PREFIX (e.g. "valgrind --tool=callgrind ...") runs mando under that command; the
# pid stays mando's since valgrind runs its guest in its own process.
start_mando() {
  env MANDO_LOG_LEVEL=warn "$@" ${BENCH_MANDO_PREFIX:-} $mando serve --listen 127.0.0.1:0 \
    --data-dir "$work/data" > "$work/out" &
  pid=$!
  for _ in $(seq 1 600); do
    grep -q '^internal listener on ' "$work/out" 2>/dev/null && break
    kill -0 $pid  # fail fast if mando died
    sleep 0.1
  done
  url=$(sed -n 's/^listening on //p' "$work/out")
  internal_url=$(sed -n 's/^internal listener on \([^ ]*\).*/\1/p' "$work/out")
  [[ -n "$url" && -n "$internal_url" ]] || { echo "mando did not start" >&2; exit 1; }
  api_token=${MANDO_QUEUE_API_TOKEN:-$(cat "$work/data/api_token")}
  echo "machine: $(nproc) cores, $(awk '/model name/ { $1=$2=$3=""; print; exit }' /proc/cpuinfo)"
}

# VmRSS, VmHWM, ... of mando, in MiB.
mib() { awk -v k="$1" '$1 == k":" { printf "%d", $2 / 1024 }' /proc/$pid/status; }

load() { cut -d' ' -f1-3 /proc/loadavg; }

# User and system CPU time of mando so far, in clock ticks (getconf CLK_TCK): "UTIME STIME".
# Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the command name.
cpu_ticks() { sed 's/.*) //' /proc/$pid/stat | awk '{ print $12, $13 }'; }

# Signs the interaction PAYLOAD (about: /about, ping: PING) with a fresh development key: sets
# $public_key for mando and what bench_wrk passes to bench/interactions.lua.
sign_interaction() {
  local fixture
  case "$1" in
    about) fixture=command_no_options.json ;;
    ping) fixture=ping.json ;;
    *) echo "PAYLOAD must be about or ping, got \"$1\"" >&2; exit 2 ;;
  esac
  $mando keys generate > "$work/keys"
  public_key=$(sed -n 's/^public_key=//p' "$work/keys")
  sed -n 's/^secret_key=//p' "$work/keys" > "$work/secret"
  cp "tests/data/discord/$fixture" "$work/body.json"
  bench_timestamp=$(date +%s)
  bench_signature=$($mando keys sign --secret-key-file "$work/secret" \
    --timestamp "$bench_timestamp" < "$work/body.json")
}

# wrk with the signed interaction of sign_interaction (mando itself must not see these
# variables: it warns about unknown MANDO_* settings).
bench_wrk() {
  MANDO_BENCH_BODY_FILE="$work/body.json" MANDO_BENCH_SIGNATURE=$bench_signature \
    MANDO_BENCH_TIMESTAMP=$bench_timestamp wrk "$@"
}

# Interactions mando answered so far, from its own counter.
interactions_answered() {
  curl -fsS "$internal_url/metrics" |
    awk '/^mando_http_requests_total\{route="\/interactions"/ { n += $2 } END { print n + 0 }'
}
