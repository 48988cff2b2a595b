#!/usr/bin/env bash
# Quick start: builds fruixd, fruixctl and fruix-xapi-sim; starts the simulator on loopback with
# the sample pool (config/sim-fixture.json) and fruixd with a config for its FreeBSD target; makes
# a small disk image; deploys it with `fruixctl deploy --follow --console`, showing the live
# phases, the guest's console and the final report; then stops everything and removes what it
# made. Nothing leaves loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "=== building fruixd, fruixctl and fruix-xapi-sim (release preset) ==="
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" \
  --target fruix-xapi-sim fruixd fruixctl
bin=build/release
sim_bin=$bin/lib/sim/fruix-xapi-sim
fruixd_bin=$bin/daemon/fruixd
fruixctl_bin=$bin/client/fruixctl

work=$(mktemp -d /tmp/fruix-quickstart-XXXXXX)
sim_pid=""
fruixd_pid=""
cleanup() {
  [ -n "$fruixd_pid" ] && kill -TERM "$fruixd_pid" 2>/dev/null && wait "$fruixd_pid" 2>/dev/null
  [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "=== starting fruix-xapi-sim (2-host pool on 127.0.0.1/127.0.0.2, plain HTTP) ==="
"$sim_bin" --fixture config/sim-fixture.json --http-port 0 --https-port -1 --admin-port -1 \
  --state-dir "$work/sim" --log-level warn > "$work/sim.ready" 2> "$work/sim.log" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.ready" ] && break; sleep 0.1; done
port=$(sed -n 's/.*"http_port":\([0-9]*\).*/\1/p' "$work/sim.ready")
[ -n "$port" ] || { echo "the simulator did not start:"; cat "$work/sim.log"; exit 1; }
echo "XenAPI at http://127.0.0.1:$port/"

# The sample pool's root password, readable by fruixd only.
printf 'password\n' > "$work/pool.password"
chmod 0600 "$work/pool.password"
cat > "$work/fruixd.toml" <<EOF
[daemon]
socket = "$work/fruixd.sock"
state_dir = "$work/state"
log_file = "$work/fruixd.log"

[pools.sample]
url = "http://127.0.0.1:$port/"
password_file = "$work/pool.password"

# The sample pool's PV-style FreeBSD guest: no guest tools, so its address comes from the
# console's DHCP lines. Its scripted boot has no SSH server, so the SSH check is off here.
[targets.fruix-freebsd]
pool = "sample"
vm = "7d9e1f3a-4b5c-4d6e-8f0a-1b2c3d4e5f01"
vdi = "3a5b7c9d-2e4f-4a6b-8c0d-1e2f3a4b5c01"
network = "9b1e0b7c-3f1d-4c7a-8e21-0d1f2e3a4b01"

[targets.fruix-freebsd.console]
os = "freebsd"

[targets.fruix-freebsd.ssh]
enabled = false
EOF

echo "=== starting fruixd ==="
"$fruixd_bin" --config "$work/fruixd.toml" 2> "$work/fruixd.stderr" &
fruixd_pid=$!
export FRUIX_SOCKET="$work/fruixd.sock"
for _ in $(seq 100); do "$fruixctl_bin" health >/dev/null 2>&1 && break; sleep 0.1; done
"$fruixctl_bin" version
"$fruixctl_bin" targets

echo "=== a 64 MiB sparse raw image with some data ==="
truncate -s 64M "$work/fruix.img"
head -c 4M /dev/urandom | dd of="$work/fruix.img" bs=1M seek=8 conv=notrunc status=none
"$fruixctl_bin" image check "$work/fruix.img"

echo "=== fruixctl deploy fruix-freebsd fruix.img --follow --console ==="
rc=0
"$fruixctl_bin" deploy fruix-freebsd "$work/fruix.img" --follow --console || rc=$?

echo "=== the job's report (fruixctl status) ==="
job=$("$fruixctl_bin" --json list --limit 1 |
      /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["jobs"][0]["job_id"])')
"$fruixctl_bin" status "$job"
echo "=== deploying the same image again: its content is already on the VDI ==="
"$fruixctl_bin" deploy fruix-freebsd "$work/fruix.img" --wait || rc=$?
echo
echo "fruixctl exit status: $rc (0 ready, 1 failed, 4 cancelled, 5 timed out)"
exit "$rc"
