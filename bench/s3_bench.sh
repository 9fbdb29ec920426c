#!/usr/bin/env bash
# The S3 half of bench/storage_bench.cpp (BlobStore put/get of 1 MiB blobs and cleanup through
# S3Backend) against s3rver on loopback (issue 5). Starts s3rver from tests/npm/node_modules
# (scripts/install-deps.sh --test installs it; the bench preset does not run npm) in a temporary
# directory with the bucket mando-bench and 12 more, mando-bench-cleanup-1..12 (one per cleanup
# run), runs the benchmark against it (its local-disk half too) and stops s3rver.
#
#   cmake --preset bench -B build/storage-bench &&
#     cmake --build build/storage-bench --target storage_bench -j2
#   bench/s3_bench.sh [google benchmark flags, e.g. --benchmark_repetitions=3]
# BENCH_STORAGE_BIN overrides the binary (default build/storage-bench/bench/storage_bench);
# MANDO_S3_BENCH_CLEANUP_STORED sets the blobs stored in the S3 cleanup runs (default 100000);
# TMPDIR chooses the disk s3rver writes to.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BENCH_STORAGE_BIN:-build/storage-bench/bench/storage_bench}
cleanup_buckets=(mando-bench-cleanup-{1..12})
[[ -x "$bin" ]] || { echo "s3_bench.sh: build $bin first (see above)" >&2; exit 1; }
[[ -d tests/npm/node_modules/s3rver ]] || {
  echo "s3_bench.sh: tests/npm lacks s3rver: run scripts/install-deps.sh --test" >&2; exit 1; }

work=$(mktemp -d)
server=
cleanup() {
  [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

node --openssl-legacy-provider tests/npm/s3rver_start.mjs --directory "$work/s3" \
  --bucket mando-bench "${cleanup_buckets[@]/#/--bucket=}" >"$work/out" 2>"$work/err" &
server=$!
for _ in $(seq 100); do  # up to 10 s
  grep -q '^listening on ' "$work/out" && break
  kill -0 "$server" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
  sleep 0.1
done
endpoint=$(sed -n 's/^listening on //p' "$work/out")
[[ -n "$endpoint" ]] || { echo "s3_bench.sh: s3rver did not start" >&2; exit 1; }
echo "s3rver $(node -p "require('./tests/npm/node_modules/s3rver/package.json').version") at" \
  "$endpoint, node $(node --version), data on $(df --output=source "$work" | tail -1)"

MANDO_S3_BENCH_ENDPOINT=$endpoint MANDO_S3_BENCH_BUCKET=mando-bench \
  MANDO_S3_BENCH_CLEANUP_BUCKETS=$(IFS=,; echo "${cleanup_buckets[*]}") \
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER "$bin" "$@"
