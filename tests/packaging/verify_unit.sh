#!/bin/sh
# Checks packaging/systemd/fruixd.service with systemd-analyze verify (against the built fruixd),
# and that the unit keeps the settings fruixd relies on. Skips (exit 77) without systemd-analyze.
set -eu
unit_src="$1"
fruixd="$2"
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze missing: skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/local/bin/fruixd|$fruixd|" "$unit_src" > "$dir/fruixd.service"
out=$(systemd-analyze verify --man=no "$dir/fruixd.service" 2>&1 || true)
if printf '%s' "$out" | grep -q "fruixd.service"; then
  echo "systemd-analyze verify complains:"; echo "$out"; exit 1
fi
for want in "Type=notify" "ExecReload=/bin/kill -HUP \$MAINPID" "RuntimeDirectory=fruixd" \
            "StateDirectory=fruixd"; do
  grep -qF "$want" "$unit_src" || { echo "missing: $want"; exit 1; }
done
echo "fruixd.service verified"
