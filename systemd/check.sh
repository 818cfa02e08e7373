#!/usr/bin/env bash
# Lints the unit files with systemd-analyze. `verify` exits 0 even on parse errors, so any
# output is a failure (../shared/BUILD.md §6). The units point at installed binaries; the
# check points them at stand-ins so only the unit syntax and settings are judged.
set -euo pipefail
cd "$(dirname "$0")"
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing (apt-get install systemd)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in sentinel.service sentinel@.service sentinel-rollback.service sentinel-rollback@.service \
  cloudflared.service rathole-client.service; do
  sed -e "s|/usr/local/bin/sentinel|/bin/true|; s|/usr/local/bin/cloudflared|/bin/true|; s|/usr/local/bin/rathole|/bin/true|" "$unit" > "$work/$unit"
done
# A template is verified as an instance of it (issue 29): sentinel@dallas.service, whose
# OnFailure= names sentinel-rollback@dallas.service.
ln -s sentinel@.service "$work/sentinel@dallas.service"
ln -s sentinel-rollback@.service "$work/sentinel-rollback@dallas.service"
out=$(systemd-analyze verify "$work"/sentinel.service "$work"/sentinel-rollback.service \
  "$work"/sentinel@dallas.service "$work"/sentinel-rollback@dallas.service \
  "$work"/cloudflared.service "$work"/rathole-client.service 2>&1 || true)
# Users and environment files exist only on the Pi.
out=$(printf '%s\n' "$out" | grep -v -e "Failed to resolve user" -e "EnvironmentFile" -e "^$" || true)
if [ -n "$out" ]; then
  printf '%s\n' "$out"
  exit 1
fi
# The launcher is POSIX sh: dash is what runs it on the image.
if command -v dash >/dev/null; then dash -n sentinel-launcher; fi
sh -n sentinel-launcher
echo "systemd units: ok"
