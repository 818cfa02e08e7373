#!/usr/bin/env bash
# The plug pulled (issue 15): boots an SD-card image under qemu-system-aarch64, floods it with
# webhooks, and kills QEMU hard (SIGKILL: no shutdown, as a power cut) at a random moment,
# CUTS times. After every cut, from outside:
#   1. the data filesystem replays its journal and checks clean,
#   2. the database passes PRAGMA integrity_check,
#   3. every webhook that got a 2xx is in it,
# and at the next power-on the filesystems mount and sentinel.service reaches READY; the time
# from power-on to READY is printed for each boot. It works on a copy; the image is not changed.
#
#   image/plug-check.sh target/image/sentinel-<version>-arm64.img [CUTS]
set -euo pipefail
img="${1:?usage: image/plug-check.sh IMAGE [CUTS]}"
cuts="${2:-5}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_workdir
flood_pid=""
trap '[ -z "$flood_pid" ] || kill "$flood_pid" 2>/dev/null; vm_cleanup' EXIT

vm_disk "$img" +256M
secret=plug-check-$(date +%s)
# The clock is not the subject here (boot-check.sh covers it): judge webhooks at once.
vm_env "$secret" CLOCK_SYNC=off
webhook_port=$(free_port)

boot() {
  # shellcheck disable=SC2119 # (vm_boot takes QEMU options, none here)
  vm_boot
  powered_on=$(date +%s.%N)
}

ready() { # waits for READY; prints the seconds from power-on
  local deadline=$(( $(date +%s) + 400 ))
  until grep -q "Started sentinel.service\|Started Sentinel missed-contact watchdog" "$tmp/console.log"; do
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited before READY"
    grep -q "emergency mode\|Failed to mount\|You are in emergency" "$tmp/console.log" && fail "a filesystem did not mount"
    [ "$(date +%s)" -lt "$deadline" ] || fail "no READY within 400 s"
    sleep 0.5
  done
  until curl -sf "http://127.0.0.1:$webhook_port/health" >/dev/null 2>&1; do sleep 0.2; done
  python3 -c "import time; print(f'{time.time() - $powered_on:.1f}')"
}

# Sends webhooks one after another, each a new message id, and appends the id of every one
# answered 2xx to $tmp/acked; stops when the VM is gone.
flood() { python3 "$(dirname "${BASH_SOURCE[0]}")/flood.py" "$webhook_port" "$secret" "plug-$1" "$tmp/acked"; }

: > "$tmp/acked"
echo "== the plug pulled $cuts times under a webhook flood ($(basename "$img"))"
for round in $(seq 1 "$cuts"); do
  boot
  seconds=$(ready)
  echo "  power-on $round: READY in $seconds s"
  flood "$round" &
  flood_pid=$!
  sleep "$(python3 -c 'import random; print(round(random.uniform(1.5, 6.0), 2))')"
  vm_kill
  wait "$flood_pid" 2>/dev/null || true
  flood_pid=""
  summary=$(vm_check_data "$tmp/acked") || exit 1
  echo "  cut $round: $summary"
done
boot
seconds=$(ready)
echo "  power-on $(( cuts + 1 )) after the last cut: READY in $seconds s"
vm_kill
echo "plug check: ok ($cuts cuts, every acknowledged webhook kept)"
