#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time,
# starting from its seed corpus in tests/data. Findings are written to build/fuzz/findings/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
# target:seed corpus (as in fuzz/CMakeLists.txt)
targets=(fuzz_interaction:discord fuzz_options:discord fuzz_cloud_tasks_json:cloud_tasks
         fuzz_render_spec:render fuzz_blob_request:storage fuzz_s3_xml:storage
         fuzz_multipart:emulator fuzz_bot_input:bot fuzz_url_policy:net
         fuzz_imagine_webhook:imagine)
scripts/install-deps.sh --test
cmake --preset fuzz
cmake --build --preset fuzz --target "${targets[@]%%:*}"
mkdir -p build/fuzz/findings
for entry in "${targets[@]}"; do
  target=${entry%%:*}
  corpus=build/fuzz/corpus-$target
  mkdir -p "$corpus"
  cp -n tests/data/"${entry#*:}"/*.{json,txt} "$corpus/" 2>/dev/null || true
  echo "== $target for ${seconds}s"
  build/fuzz/fuzz/$target -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -artifact_prefix=build/fuzz/findings/$target- -print_final_stats=1 "$corpus"
done
