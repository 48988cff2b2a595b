#!/usr/bin/env bash
# Quick start: builds fruixd, starts fruix-xapi-sim on loopback with the sample pool
# (config/sim-fixture.json), and walks through what a deployment talks to — login, records, a VM
# start followed through task events, its boot console and its guest-agent address — using the
# real XenAPI Python client. Everything it starts is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "=== building (release preset) ==="
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" --target fruix-xapi-sim

exec /usr/bin/python3 -W ignore::ResourceWarning packaging/quickstart_demo.py \
  build/release/lib/sim/fruix-xapi-sim config/sim-fixture.json
