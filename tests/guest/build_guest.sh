#!/usr/bin/env bash
# Builds the fruix test guest: a BIOS-bootable raw disk (MBR + FAT16 + syslinux + Debian cloud
# kernel + busybox/dropbear initramfs), following ../shared/docs/guest-lab.md. No mount, no loop
# device, no root needed (apt-get download, key generation and `cpio -R 0:0` work as any user).
#
# Usage: build_guest.sh OUT_DIR BUILD_ID [--variant ok|panic|no-marker]
#
# Outputs in OUT_DIR:
#   disk.raw         32 MiB raw disk (boots under QEMU -accel tcg, virtio disk/net/rng)
#   disk.vhd         the same as a dynamic VHD (qemu-img, force_size: virtual size stays 32 MiB)
#   guest_key        ed25519 client private key authorised for root (guest_key.pub its public half)
#   host_key.pub     the guest's dropbear host public key (OpenSSH format)
#   host_key.sha256  its fingerprint, "SHA256:..." (as ssh-keygen -l prints it)
#   known_hosts      "fruix-guest ssh-ed25519 ..." for ssh -o HostKeyAlias=fruix-guest
#   build.stamp      hash of the inputs; when it matches, nothing is rebuilt
# The kernel .deb is fetched with `apt-get download` into $FRUIX_GUEST_CACHE (default
# OUT_DIR/cache) and reused when present. Guest milestones on ttyS0: see tests/guest/init.
set -euo pipefail

usage() { echo "usage: $0 OUT_DIR BUILD_ID [--variant ok|panic|no-marker]" >&2; exit 2; }
[ $# -ge 2 ] || usage
OUT=$1
BUILD_ID=$2
shift 2
VARIANT=ok
while [ $# -gt 0 ]; do
  case "$1" in
    --variant) [ $# -ge 2 ] || usage; VARIANT=$2; shift 2 ;;
    --variant=*) VARIANT=${1#--variant=}; shift ;;
    *) usage ;;
  esac
done
case "$VARIANT" in ok | panic | no-marker) ;; *) echo "unknown variant: $VARIANT" >&2; exit 2 ;; esac
if ! [[ "$BUILD_ID" =~ ^[A-Za-z0-9._:+-]{1,128}$ ]]; then
  echo "BUILD_ID must match [A-Za-z0-9._:+-]{1,128}: $BUILD_ID" >&2
  exit 2
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE=${FRUIX_GUEST_CACHE:-$OUT/cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

for tool in busybox dropbear dropbearkey syslinux mcopy mkfs.vfat sfdisk cpio qemu-img ssh-keygen \
  dpkg-deb gzip; do
  if ! command -v "$tool" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$tool" ] && ! [ -x "/sbin/$tool" ]; then
    echo "build_guest.sh: missing tool '$tool' (run packaging/install-deps.sh)" >&2
    exit 3
  fi
done
export PATH=$PATH:/usr/sbin:/sbin
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$MBR_BIN" ] || { echo "build_guest.sh: $MBR_BIN missing (syslinux-common)" >&2; exit 3; }

# --- Kernel .deb: reuse a cached one, else resolve the meta package and download. -------------
shopt -s nullglob
debs=("$CACHE"/linux-image-[0-9]*-cloud-amd64_*_amd64.deb)
KDEB=""
[ ${#debs[@]} -gt 0 ] && KDEB=$(printf '%s\n' "${debs[@]}" | sort -V | tail -n1)
if [ -z "$KDEB" ]; then
  KPKG=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$KPKG" ] || { echo "build_guest.sh: cannot resolve linux-image-cloud-amd64" >&2; exit 3; }
  chmod 777 "$CACHE" 2>/dev/null || true # apt's _apt sandbox user must be able to write there
  (cd "$CACHE" && apt-get download -q "$KPKG" >&2)
  debs=("$CACHE"/"$KPKG"_*_amd64.deb)
  [ ${#debs[@]} -gt 0 ] || { echo "build_guest.sh: apt-get download $KPKG gave no .deb" >&2; exit 3; }
  KDEB=${debs[-1]}
fi

# --- Cache check: inputs = this script, the guest's init + hook, variant, build id, kernel. ----
STAMP=$( {
  cat "$HERE/build_guest.sh" "$HERE/init" "$HERE/udhcpc.script"
  echo "variant=$VARIANT build_id=$BUILD_ID kernel=$(basename "$KDEB")"
  dpkg-query -W -f='${Package}=${Version}\n' busybox-static dropbear-bin 2>/dev/null || true
} | sha256sum | cut -d' ' -f1)
if [ -f "$OUT/build.stamp" ] && [ "$(cat "$OUT/build.stamp")" = "$STAMP" ] &&
  [ -f "$OUT/disk.raw" ] && [ -f "$OUT/disk.vhd" ] && [ -f "$OUT/guest_key" ] &&
  [ -f "$OUT/host_key.sha256" ]; then
  echo "build_guest.sh: $OUT is up to date (variant $VARIANT, build id $BUILD_ID)"
  exit 0
fi
rm -f "$OUT/build.stamp"

WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root

# --- Kernel + the NIC/rng modules (only these members are extracted). ---------------------------
MODS="failover net_failover virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_net virtio-rng"
patterns=("./boot/vmlinuz-*")
for m in $MODS; do patterns+=("*/$m.ko"); done
mkdir -p "$WORK/kernel"
dpkg-deb --fsys-tarfile "$KDEB" | tar -x -C "$WORK/kernel" --wildcards "${patterns[@]}"
vmlinuz=("$WORK"/kernel/boot/vmlinuz-*)
VMLINUZ=${vmlinuz[0]}

# --- Initramfs tree. ----------------------------------------------------------------------------
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,lib/x86_64-linux-gnu,lib64,lib/modules,etc/udhcpc,etc/dropbear,etc/fruix,proc,sys,dev,run,tmp,var/lib/fruix}
BUSYBOX=$(command -v busybox)
cp "$BUSYBOX" "$ROOT/bin/busybox"
for a in $("$BUSYBOX" --list-full); do
  [ -e "$ROOT/$a" ] || ln -s /bin/busybox "$ROOT/$a"
done
DROPBEAR=$(command -v dropbear)
rm -f "$ROOT/usr/sbin/dropbear"
cp "$DROPBEAR" "$ROOT/usr/sbin/dropbear"
ldd "$DROPBEAR" | awk '/=> \//{print $3}' | while read -r lib; do
  cp -L "$lib" "$ROOT/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$ROOT/lib64/"
: >"$ROOT/lib/modules/load-order"
for m in $MODS; do
  ko=$(find "$WORK/kernel" -name "$m.ko" | head -n1)
  cp "$ko" "$ROOT/lib/modules/"
  echo "$m" >>"$ROOT/lib/modules/load-order"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOT/etc/passwd"
echo 'root:x:0:' >"$ROOT/etc/group"
echo '/bin/sh' >"$ROOT/etc/shells"
echo fruix-guest >"$ROOT/etc/hostname"
echo "$VARIANT" >"$ROOT/etc/fruix/variant"
echo "$BUILD_ID" >"$ROOT/etc/fruix/build-id"
install -m 755 "$HERE/init" "$ROOT/init"
install -m 755 "$HERE/udhcpc.script" "$ROOT/etc/udhcpc/default.script"

# Keys: client key for root, dropbear host key; host fingerprint and known_hosts for the test.
ssh-keygen -q -t ed25519 -N '' -C "fruix-guest-client" -f "$WORK/guest_key"
install -d -m 700 "$ROOT/root" "$ROOT/root/.ssh"
install -m 600 "$WORK/guest_key.pub" "$ROOT/root/.ssh/authorized_keys"
dropbearkey -t ed25519 -f "$ROOT/etc/dropbear/dropbear_ed25519_host_key" >/dev/null 2>&1
dropbearkey -y -f "$ROOT/etc/dropbear/dropbear_ed25519_host_key" 2>/dev/null |
  awk '/^ssh-ed25519 /{print $1, $2, "fruix-guest"}' >"$WORK/host_key.pub"
[ -s "$WORK/host_key.pub" ] || { echo "build_guest.sh: dropbearkey -y gave no key" >&2; exit 4; }
ssh-keygen -l -E sha256 -f "$WORK/host_key.pub" | awk '{print $2}' >"$WORK/host_key.sha256"
awk '{print "fruix-guest", $1, $2}' "$WORK/host_key.pub" >"$WORK/known_hosts"

(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n -6 >"$WORK/initrd.gz"

# --- Disk: MBR + one FAT16 partition at 1 MiB, written in place. -------------------------------
cat >"$WORK/syslinux.cfg" <<'CFG'
SERIAL 0 115200
DEFAULT fruix
PROMPT 0
TIMEOUT 0
LABEL fruix
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0,115200 panic=-1
CFG
DISK=$WORK/disk.raw
truncate -s 32M "$DISK"
echo 'start=2048, size=63488, type=e, bootable' | sfdisk -q --label dos "$DISK"
mkfs.vfat --offset 2048 -h 2048 -F 16 -n FRUIXBOOT "$DISK" 31744 >/dev/null
export MTOOLS_SKIP_CHECK=1
mcopy -i "$DISK@@1048576" "$VMLINUZ" ::/vmlinuz
mcopy -i "$DISK@@1048576" "$WORK/initrd.gz" ::/initrd.gz
mcopy -i "$DISK@@1048576" "$WORK/syslinux.cfg" ::/syslinux.cfg
syslinux --offset 1048576 --install "$DISK"
dd if="$MBR_BIN" of="$DISK" bs=440 count=1 conv=notrunc status=none
qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on "$DISK" "$WORK/disk.vhd"

# --- Publish (each file renamed into place; the stamp last). ------------------------------------
for f in disk.raw disk.vhd guest_key guest_key.pub host_key.pub host_key.sha256 known_hosts; do
  mv -f "$WORK/$f" "$OUT/$f"
done
chmod 600 "$OUT/guest_key"
echo "$STAMP" >"$OUT/build.stamp"
echo "build_guest.sh: built $OUT (variant $VARIANT, build id $BUILD_ID, kernel $(basename "$VMLINUZ"))"
