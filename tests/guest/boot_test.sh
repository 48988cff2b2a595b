#!/usr/bin/env bash
# guest.boot_smoke: builds the fruix test guest (variants ok and panic), boots each under
# qemu-system-x86_64 -accel tcg inside a private network namespace (tap + dnsmasq DHCP on
# 10.77.0.0/24, no uplink: no packet can leave it), and checks:
#   ok:    serial shows SYSLINUX, the kernel banner, a udhcpc lease, the sshd-started milestone and
#          FRUIX-READY; `ssh -i guest_key root@IP cat /var/lib/fruix/ready` (host key pinned)
#          prints BUILD_ID.
#   panic: serial shows "Kernel panic - not syncing" and never FRUIX-READY.
#   no-marker: SSH login works (same checks) but /var/lib/fruix/ready does not exist.
# Usage: boot_test.sh BUILD_GUEST_SH WORK_DIR
# Exit 0 pass, 1 fail, 77 skip (only when QEMU or `ip netns` genuinely cannot run here).
# Every process is killed by PID and the namespace deleted on exit (trap), also on failure.
set -uo pipefail

BUILD=${1:?usage: boot_test.sh BUILD_GUEST_SH WORK_DIR}
BASE=${2:?usage: boot_test.sh BUILD_GUEST_SH WORK_DIR}
BUILD_ID=fruix-smoke-build-1
BOOT_DEADLINE_S=${FRUIX_GUEST_BOOT_DEADLINE_S:-50}
SSH_DEADLINE_S=20
PANIC_DEADLINE_S=45
# The whole script ends within TOTAL_DEADLINE_S (ctest TIMEOUT is 180): every wait is capped by
# what is left of it, and QEMU / dnsmasq run under `timeout` so they die on their own even if this
# script is SIGKILLed.
TOTAL_DEADLINE_S=160
START_S=$(date +%s)
NS=fruixtest-$$
SUBNET=10.77.0

skip() {
  echo "########################################################################" >&2
  echo "### SKIPPED guest.boot_smoke: $*" >&2
  echo "########################################################################" >&2
  exit 77
}
fail() {
  echo "FAIL guest.boot_smoke: $*" >&2
  exit 1
}
now() { date +%s.%N; }
# cap N: N capped by the seconds left of TOTAL_DEADLINE_S (at least 1).
cap() {
  local left=$((START_S + TOTAL_DEADLINE_S - $(date +%s)))
  [ "$left" -lt 1 ] && left=1
  if [ "$1" -lt "$left" ]; then echo "$1"; else echo "$left"; fi
}
LIFETIME_S=$((TOTAL_DEADLINE_S + 10))
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }

export PATH=$PATH:/usr/sbin:/sbin
command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "qemu-system-x86_64 is not installed"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
command -v dnsmasq >/dev/null 2>&1 || fail "dnsmasq is not installed (packaging/install-deps.sh)"

QEMU_PID=""
DNSMASQ_PID=""
NS_CREATED=0
cleanup() {
  [ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
  [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null
  [ "$NS_CREATED" = 1 ] && ip netns del "$NS" 2>/dev/null
  true
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
export FRUIX_GUEST_CACHE=$BASE/cache

# --- Namespace, tap, dnsmasq. --------------------------------------------------------------------
if ! err=$(ip netns add "$NS" 2>&1); then
  skip "cannot create a network namespace (ip netns add: $err)"
fi
NS_CREATED=1
ip -n "$NS" link set lo up || fail "lo up in $NS"
if ! err=$(ip -n "$NS" tuntap add dev tap0 mode tap 2>&1); then
  skip "cannot create a tap device in a namespace ($err)"
fi
ip -n "$NS" addr add "$SUBNET.1/24" dev tap0 || fail "addr on tap0"
ip -n "$NS" link set tap0 up || fail "tap0 up"

RUN=$(mktemp -d "$BASE/run.XXXXXX")
chmod 755 "$RUN"
ip netns exec "$NS" timeout "$LIFETIME_S" dnsmasq --conf-file=/dev/null --keep-in-foreground --port=0 \
  --interface=tap0 --bind-interfaces --except-interface=lo \
  --dhcp-range="$SUBNET.50,$SUBNET.99,255.255.255.0,1h" --dhcp-authoritative --no-ping \
  --dhcp-leasefile="$RUN/dnsmasq.leases" --pid-file= --user=root \
  --log-dhcp --log-facility="$RUN/dnsmasq.log" &
DNSMASQ_PID=$!

# --- Build (cached between runs). ----------------------------------------------------------------
t0=$(now)
"$BUILD" "$BASE/ok" "$BUILD_ID" --variant ok || fail "build of variant ok failed"
"$BUILD" "$BASE/panic" "$BUILD_ID-panic" --variant panic || fail "build of variant panic failed"
"$BUILD" "$BASE/no-marker" "$BUILD_ID-nomarker" --variant no-marker || fail "build of variant no-marker failed"
echo "TIME build (ok + panic + no-marker): $(elapsed "$t0") s"

# boot VARIANT_DIR SERIAL_LOG: starts QEMU (in the namespace) on the raw disk; sets QEMU_PID.
boot() {
  : >"$2"
  ip netns exec "$NS" timeout "$LIFETIME_S" qemu-system-x86_64 -accel tcg -m 256 -smp 1 -display none -monitor none \
    -no-reboot -serial "file:$2" \
    -drive "file=$1/disk.raw,format=raw,if=virtio,snapshot=on" \
    -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0 \
    -device virtio-rng-pci >"$2.qemu" 2>&1 &
  QEMU_PID=$!
}
stop_qemu() {
  if [ -n "$QEMU_PID" ]; then
    kill "$QEMU_PID" 2>/dev/null
    wait "$QEMU_PID" 2>/dev/null
    QEMU_PID=""
  fi
}
# await LOG REGEX DEADLINE_S: polls the serial log (every 0.1 s, bounded); 0 when REGEX appears.
await() {
  local end=$(($(date +%s) + $(cap "$3")))
  while [ "$(date +%s)" -lt "$end" ]; do
    grep -aqE "$2" "$1" && return 0
    if ! kill -0 "$QEMU_PID" 2>/dev/null; then
      grep -aqE "$2" "$1" && return 0
      echo "QEMU exited early: $(cat "$1.qemu")" >&2
      return 1
    fi
    sleep 0.1
  done
  return 1
}
dump() {
  echo "---- serial log $1 (tail) ----" >&2
  tail -n 40 "$1" >&2
  echo "---- dnsmasq log (tail) ----" >&2
  tail -n 10 "$RUN/dnsmasq.log" >&2 2>/dev/null
}

# --- Variant ok. ---------------------------------------------------------------------------------
LOG=$RUN/serial-ok.log
t0=$(now)
boot "$BASE/ok" "$LOG"
await "$LOG" '^FRUIX-READY: ' "$BOOT_DEADLINE_S" || { dump "$LOG"; fail "no FRUIX-READY within ${BOOT_DEADLINE_S}s"; }
echo "TIME boot to marker (ok): $(elapsed "$t0") s"
for re in '^SYSLINUX ' 'Linux version [0-9]+\.[0-9]+' 'udhcpc: lease of [0-9.]+ obtained' \
  'Server listening on [^ ]+ port 22' '^FRUIX-READY: .*build-id '"$BUILD_ID"; do
  grep -aqE "$re" "$LOG" || { dump "$LOG"; fail "serial log lacks /$re/"; }
done
IP=$(grep -aoE 'udhcpc: lease of [0-9.]+ obtained' "$LOG" | head -n1 | awk '{print $4}')
case "$IP" in "$SUBNET".*) ;; *) dump "$LOG"; fail "guest address '$IP' is not in $SUBNET.0/24" ;; esac
grep -q "$IP" "$RUN/dnsmasq.leases" || fail "dnsmasq lease file has no $IP"

SSH=(ip netns exec "$NS" ssh -i "$BASE/ok/guest_key" -o UserKnownHostsFile="$BASE/ok/known_hosts"
  -o HostKeyAlias=fruix-guest -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=3
  -o LogLevel=ERROR "root@$IP")
end=$(($(date +%s) + $(cap "$SSH_DEADLINE_S")))
got=""
while [ "$(date +%s)" -lt "$end" ]; do
  if got=$("${SSH[@]}" cat /var/lib/fruix/ready 2>"$RUN/ssh.err"); then break; fi
  got=""
  sleep 0.2
done
[ -n "$got" ] || { dump "$LOG"; cat "$RUN/ssh.err" >&2; fail "ssh to $IP never succeeded"; }
[ "$got" = "$BUILD_ID" ] || fail "marker content '$got' != '$BUILD_ID'"
echo "TIME boot to ssh marker check (ok): $(elapsed "$t0") s; guest $IP, host key $(cat "$BASE/ok/host_key.sha256")"
stop_qemu

# --- Variant panic. ------------------------------------------------------------------------------
LOG=$RUN/serial-panic.log
t0=$(now)
boot "$BASE/panic" "$LOG"
await "$LOG" 'Kernel panic - not syncing' "$PANIC_DEADLINE_S" || { dump "$LOG"; fail "no kernel panic line within ${PANIC_DEADLINE_S}s"; }
echo "TIME boot to panic line (panic): $(elapsed "$t0") s"
grep -aq '^FRUIX-READY' "$LOG" && fail "panic variant printed FRUIX-READY"
grep -aq 'udhcpc: lease of' "$LOG" && fail "panic variant reached DHCP"
stop_qemu

# --- Variant no-marker: SSH comes up, the marker never does. ------------------------------------
LOG=$RUN/serial-nomarker.log
t0=$(now)
boot "$BASE/no-marker" "$LOG"
await "$LOG" '^FRUIX-NOMARKER: ' "$BOOT_DEADLINE_S" || { dump "$LOG"; fail "no FRUIX-NOMARKER within ${BOOT_DEADLINE_S}s"; }
echo "TIME boot to no-marker line (no-marker): $(elapsed "$t0") s"
grep -aqE 'Server listening on [^ ]+ port 22' "$LOG" || { dump "$LOG"; fail "no-marker variant: no sshd line"; }
grep -aq '^FRUIX-READY' "$LOG" && fail "no-marker variant printed FRUIX-READY"
IP=$(grep -aoE 'udhcpc: lease of [0-9.]+ obtained' "$LOG" | head -n1 | awk '{print $4}')
SSH=(ip netns exec "$NS" ssh -i "$BASE/no-marker/guest_key"
  -o UserKnownHostsFile="$BASE/no-marker/known_hosts" -o HostKeyAlias=fruix-guest
  -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=3 -o LogLevel=ERROR "root@$IP")
end=$(($(date +%s) + $(cap "$SSH_DEADLINE_S")))
rc=255
while [ "$(date +%s)" -lt "$end" ]; do
  "${SSH[@]}" test -f /var/lib/fruix/ready 2>"$RUN/ssh.err"
  rc=$?
  [ "$rc" != 255 ] && break # 255 = ssh itself failed (not up yet); else the remote test ran
  sleep 0.2
done
[ "$rc" = 1 ] || { cat "$RUN/ssh.err" >&2; fail "no-marker variant: remote 'test -f ready' gave $rc, want 1"; }
stop_qemu

rm -rf "$RUN"
echo "PASS guest.boot_smoke"
