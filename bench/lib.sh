# Shared by the bench/*.sh load tests (source it): build or find the release mando, start
# `mando serve` on a free loopback port over a fresh data dir, read /proc of it.
# BENCH_MANDO_BIN=path uses that binary instead of building the release preset; TMPDIR chooses
# the disk of the data dir.

pid=
peer_pid=

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
  trap 'for p in $pid $peer_pid; do kill $p 2>/dev/null || true; wait $p || true; done
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

# User and system CPU time so far of the processes PIDS (default: mando), summed, in clock ticks
# (getconf CLK_TCK): "UTIME STIME". Fields 14 and 15 of /proc/PID/stat, counted after the ")"
# that ends the command name.
cpu_ticks() {
  local p
  for p in "${@:-$pid}"; do sed 's/.*) //' "/proc/$p/stat"; done |
    awk '{ user += $12; sys += $13 } END { print user, sys }'
}

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

# Starts the peer of bench/peer/flask_interactions.py (Flask + PyNaCl under gunicorn with 2 sync
# workers, gunicorn's defaults otherwise) on a free loopback port with $public_key; sets
# $peer_url and $peer_pids (the master and its workers, whose CPU time counts). Needs
# `scripts/install-deps.sh --peers`.
start_flask_peer() {
  command -v gunicorn >/dev/null || { echo "gunicorn is missing: scripts/install-deps.sh --peers" >&2; exit 1; }
  MANDO_PEER_PUBLIC_KEY=$public_key gunicorn --workers 2 --bind 127.0.0.1:0 \
    --chdir bench/peer flask_interactions:app > "$work/peer.out" 2>&1 &
  peer_pid=$!
  for _ in $(seq 1 300); do
    [[ $(grep -c 'Booting worker' "$work/peer.out") -ge 2 ]] && break
    kill -0 $peer_pid  # fail fast if gunicorn died
    sleep 0.1
  done
  peer_url=$(sed -n 's/.*Listening at: \(http[^ ]*\).*/\1/p' "$work/peer.out")
  [[ -n "$peer_url" ]] || { echo "the Flask peer did not start: $(cat "$work/peer.out")" >&2; exit 1; }
  peer_pids="$peer_pid $(pgrep -P $peer_pid | tr '\n' ' ')"
}
