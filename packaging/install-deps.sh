#!/usr/bin/env bash
# Installs, from Debian 12 packages, everything fruixd needs to build, test and run its
# simulator-backed quick start. Idempotent; needs root (or sudo).
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format git
  # design-card libraries
  libcurl4-openssl-dev libxmlrpc-c++8-dev nlohmann-json3-dev libssh-dev libspdlog-dev libasio-dev
  libssl-dev
  # libraries that serve better than hand-written code
  libcli11-dev libtomlplusplus-dev libsqlite3-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # test peers and image tools
  qemu-utils libvhdi-utils openssh-server openssh-client openssl curl python3 socat
  # real-guest lane (tests/guest, docs: ../shared/docs/guest-lab.md): image builder and QEMU boot
  busybox-static dropbear-bin syslinux syslinux-common mtools dosfstools fdisk cpio
  qemu-system-x86 dnsmasq-base iproute2
  # compressed images the format-detection tests refuse
  xz-utils zstd bzip2
  # real XenAPI clients the simulator is checked against (XenAPI.py ships in python3-os-xenapi)
  python3-os-xenapi
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Xen Orchestra's XenAPI client (npm package `xen-api`), used by tests/clients to check the
# simulator with a real client. Installed outside the source tree; FRUIX_XO_CLIENT_DIR overrides.
XO_DIR="${FRUIX_XO_CLIENT_DIR:-/opt/fruix-test-clients}"
XO_VERSION="4.7.6"
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
if [ ! -f "$XO_DIR/node_modules/xen-api/package.json" ] ||
   ! grep -q "\"version\": \"$XO_VERSION\"" "$XO_DIR/node_modules/xen-api/package.json"; then
  $SUDO mkdir -p "$XO_DIR"
  $SUDO npm install --prefix "$XO_DIR" --no-save --no-package-lock --no-audit --no-fund \
    "xen-api@$XO_VERSION"
fi
