#!/usr/bin/env bash
# Builds fruixd with warnings as errors and runs the whole test suite twice: in the normal
# (dev) build and in the ASan+UBSan build. Exit status is non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
for preset in dev asan; do
  echo "=== fruixd: configure + build ($preset) ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== fruixd: tests ($preset) ==="
  ctest --preset "$preset" -j "$jobs"
done
