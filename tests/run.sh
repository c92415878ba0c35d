#!/usr/bin/env bash
# The whole check, as CI runs it: the test suite in a release build, the same suite again
# under AddressSanitizer and UndefinedBehaviorSanitizer, then every file reader's fuzzer for
# FUZZ_SECONDS (default 60) from its committed seed corpus. Any failure, crash or leak fails.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset default && cmake --build --preset default && ctest --preset default
cmake --preset sanitize && cmake --build --preset sanitize && ctest --preset sanitize
cmake --preset fuzz && cmake --build --preset fuzz
for target in model csv idx; do
  corpus=$(mktemp -d)
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  echo "fuzz_$target: ${FUZZ_SECONDS:-60} s from $(ls "$corpus" | wc -l) seeds"
  build-fuzz/tests/fuzz/fuzz_"$target" -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
  rm -rf "$corpus"
done
