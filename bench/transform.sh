#!/usr/bin/env bash
# Issue 12's batch, side by side: twenty 12-megapixel noisy JPEGs (about 4.6 MB each, made once
# by bench/transform_images.py under build/bench-data/transform) served by a loopback HTTP server
# (python3 -m http.server, a ThreadingHTTPServer on 127.0.0.1 and a free port), each to a
# 512 x 512 crop, then a contact sheet, by
#
#   mando        `mando transform --stats` (release build), attention and centre crops, JPEG,
#                MANDO_TRANSFORM_WORKERS=2 decoder processes, [transform]'s defaults otherwise
#                (4 downloads at a time, each decoded as soon as it has arrived);
#   Pillow       bench/peer/pillow_transform.py: 4 download threads, 2 decoder threads,
#                ImageOps.fit (a centre crop), plain and with Image.draft (shrink-on-load);
#   vipsthumbnail  curl (4 downloads at a time) into a temp dir, then two vipsthumbnail
#                processes at once with ten files each (--smartcrop attention, and centre),
#                then the sheet with `vips arrayjoin` and `vips resize` to 256 px cells.
#
#   bench/transform.sh [RUNS=5]
#
# Every variant runs RUNS times, interleaved round by round after one warm-up round, and the
# table gives medians of:
#   wall      from the first request to the encoded sheet: mando's and the Pillow script's own
#             clock (--stats), the whole chain of processes for vipsthumbnail;
#   process   the wall time of the whole command, process start-up included;
#   peak RSS  mando: the sum of VmHWM of mando and its two decoder processes (--stats); Pillow:
#             its VmHWM (one process); vipsthumbnail: the largest, over the steps, of the sum of
#             the processes running at once (GNU time's %M for each), i.e. the two thumbnailers.
# Needs scripts/install-deps.sh --peers (Pillow, libvips-tools, curl), run here first.
# BENCH_MANDO_BIN=path measures that binary instead of building the release preset.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scripts/install-deps.sh --peers >/dev/null
source bench/lib.sh
prepare_mando
py=/usr/bin/python3  # Debian's, whose python3-pil install-deps installed
data=build/bench-data/transform
$py bench/transform_images.py "$data" 20

$py -u -m http.server 0 --bind 127.0.0.1 --directory "$data" > "$work/server.log" 2>&1 &
peer_pid=$!  # stopped by prepare_mando's trap
for _ in $(seq 1 100); do
  grep -q '^Serving HTTP' "$work/server.log" && break
  kill -0 $peer_pid
  sleep 0.1
done
port=$(sed -n 's/^Serving HTTP on 127.0.0.1 port \([0-9]*\).*/\1/p' "$work/server.log")
[[ -n "$port" ]] || { echo "the image server did not start: $(cat "$work/server.log")" >&2; exit 1; }
urls=()
for f in "$data"/photo-*.jpg; do urls+=("http://127.0.0.1:$port/$(basename "$f")"); done

now() { date +%s.%N; }
# CPU time the hypervisor gave to others while this VM wanted it, in seconds so far (the 8th
# figure of /proc/stat's cpu line): on a shared host, the noise in every figure below.
steal() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.1f", $9 / hz }' /proc/stat; }
# "WALL PROCESS RSS" of one run, appended to $work/VARIANT.
record() { echo "$2 $3 $4" >> "$work/$1"; }
json_field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$2"; }

# The JSON line of `mando transform --stats` or the Pillow script in $work/stats: checks that all
# twenty worked and records it.
record_stats() {
  local variant=$1 started=$2 ended=$3
  [[ $(json_field ok "$work/stats") == "${#urls[@]}" ]] ||
    { echo "$variant: not every image worked: $(cat "$work/stats" "$work/err")" >&2; exit 1; }
  record "$variant" "$(json_field wall_seconds "$work/stats")" \
    "$(awk -v a="$started" -v b="$ended" 'BEGIN { print b - a }')" \
    "$(json_field peak_rss_bytes "$work/stats")"
}

run_mando() {
  local crop=$1 started ended
  started=$(now)
  env MANDO_LOG_LEVEL=warn MANDO_TRANSFORM_WORKERS=2 MANDO_FETCH_ALLOW="127.0.0.1:$port" \
    MANDO_FETCH_ALLOW_HTTP=true "$mando" transform --stats --size 512 --crop "$crop" \
    --format jpeg --out "$work/mando" "${urls[@]}" > "$work/stats" 2> "$work/err"
  ended=$(now)
  record_stats "mando-$crop" "$started" "$ended"
}

run_pillow() {
  local variant=$1 started ended
  shift
  started=$(now)
  $py bench/peer/pillow_transform.py --size 512 "$@" "${urls[@]}" > "$work/stats" 2> "$work/err"
  ended=$(now)
  record_stats "$variant" "$started" "$ended"
}

# GNU time's peak RSS in bytes, written by `measured NAME command...` to $work/vips/NAME.rss.
measured() {
  local name=$1
  shift
  /usr/bin/time -f %M -o "$work/vips/$name.rss" "$@"
}
rss() { echo $(($(cat "$work/vips/$1.rss") * 1024)); }

run_vips() {
  local crop=$1 dir=$work/vips started ended
  rm -rf "$dir" && mkdir -p "$dir/in" "$dir/out"
  local fetch=() files=() tiles=()
  for url in "${urls[@]}"; do
    fetch+=(-o "$dir/in/${url##*/}" "$url")
    files+=("$dir/in/${url##*/}")
    tiles+=("$dir/out/${url##*/}")
  done
  local half=$((${#files[@]} / 2))
  started=$(now)
  measured curl curl --no-progress-meter --fail --parallel --parallel-max 4 "${fetch[@]}"
  measured first vipsthumbnail --size 512x512 --smartcrop "$crop" \
    -o "$dir/out/%s.jpg[Q=85,optimize_coding,strip]" "${files[@]:0:half}" &
  local first=$!
  measured second vipsthumbnail --size 512x512 --smartcrop "$crop" \
    -o "$dir/out/%s.jpg[Q=85,optimize_coding,strip]" "${files[@]:half}"
  wait $first
  measured join vips arrayjoin "${tiles[*]}" "$dir/sheet.v" --across 5 --shim 16 \
    --background 24
  measured resize vips resize "$dir/sheet.v" "$dir/sheet.jpg[Q=85,optimize_coding,strip]" 0.5
  ended=$(now)
  local wall peak
  wall=$(awk -v a="$started" -v b="$ended" 'BEGIN { print b - a }')
  peak=$(printf '%s\n' "$(rss curl)" $(($(rss first) + $(rss second))) "$(rss join)" \
    "$(rss resize)" | sort -n | tail -1)
  record "vips-$crop" "$wall" "$wall" "$peak"
}

variants=(mando-attention mando-centre pillow pillow-draft vips-attention vips-centre)
round() {
  run_mando attention
  run_mando centre
  run_pillow pillow
  run_pillow pillow-draft --draft
  run_vips attention
  run_vips centre
}

echo "machine: $(nproc) cores, $(awk '/model name/ { $1=$2=$3=""; print; exit }' /proc/cpuinfo)"
echo "mando $($mando version | cut -d' ' -f2), Pillow $($py -c 'import PIL; print(PIL.__version__)'), $(vips --version)"
echo "inputs: ${#urls[@]} x $(du -cb "$data"/photo-*.jpg | awk 'END { printf "%.2f MB", $1 / 1e6 / '"${#urls[@]}"' }') on average"
echo "load before: $(load)"
round
for v in "${variants[@]}"; do rm -f "$work/$v"; done  # the warm-up round is not counted
for r in $(seq 1 "$runs"); do
  before=$(steal)
  round
  echo "round $r done, load $(load), steal $(awk -v a="$before" -v b="$(steal)" 'BEGIN { printf "%.1f", b - a }') s"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "| $runs runs, medians | wall: first request to encoded sheet | process wall | peak RSS |"
echo "|---|---|---|---|"
for v in "${variants[@]}"; do
  wall=$(cut -d' ' -f1 "$work/$v" | median)
  process=$(cut -d' ' -f2 "$work/$v" | median)
  peak=$(cut -d' ' -f3 "$work/$v" | median)
  range=$(cut -d' ' -f1 "$work/$v" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')
  printf '| %s | %.2f s (%s) | %.2f s | %.0f MB |\n' "$v" "$wall" "$range" "$process" \
    "$(awk -v b="$peak" 'BEGIN { print b / 1e6 }')"
done
for v in "${variants[@]}"; do echo "$v, every run's wall: $(cut -d' ' -f1 "$work/$v" | tr '\n' ' ')"; done
echo "load after: $(load)"
