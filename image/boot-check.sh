#!/usr/bin/env bash
# Boots an SD-card image under qemu-system-aarch64 (-M virt: Debian's kernel and initrd from the
# image's own boot partition, the image as a virtio disk) and checks, from outside, that
#   1. the first boot imports sentinel.env from the boot partition and grows the data partition,
#   2. sentinel.service reaches READY (systemd logs "Started" only after READY=1),
#   3. it answers /health over the network, and takes a webhook,
#   4. no unit failed, and the root partition is byte-for-byte unchanged after the boot (so it
#      really was read-only: even a read-write mount updates the ext4 superblock),
#   5. with the VM's real-time clock at 2020-01-01 and no time source (a Pi after a power cut,
#      offline), the webhook is kept and answered but not judged, and /health says "waiting
#      for the time" (issue 15).
# It works on a copy; the image is not changed. About 2-4 minutes under software emulation.
#
#   image/boot-check.sh target/image/sentinel-<version>-arm64.img
set -euo pipefail
img="${1:?usage: image/boot-check.sh IMAGE}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_workdir
keep_console="$(dirname "$img")/boot-check-console.log"

# A copy one GiB larger than the image, as a bigger card would be, with test settings.
vm_disk "$img" +1G
secret=boot-check-$(date +%s)
vm_env "$secret"
root_sum() {
  local start size
  read -r start size < <(part 2)
  dd if="$tmp/disk.img" bs=512 skip="$start" count="$size" status=none | sha256sum | cut -c1-16
}
root_before=$(root_sum)

webhook_port=$(free_port) admin_port=$(free_port)
started=$(date +%s)
vm_boot -rtc base=2020-01-01 -device i6300esb -watchdog-action reset -monitor "unix:$tmp/monitor,server,nowait"


echo "== booting $(basename "$img") under qemu-system-aarch64 -M virt"
wait_for "kernel" 120 on_console "Linux version"
wait_for "data partition grown" 400 on_console "data partition grown"
wait_for "sentinel.env imported" 60 on_console "imported sentinel.env from the boot partition"
wait_for "sentinel.service READY" 300 on_console "Started sentinel.service\|Started Sentinel missed-contact watchdog"
wait_for "/health answered" 120 curl -sf "http://127.0.0.1:$admin_port/health"
health=$(curl -s "http://127.0.0.1:$admin_port/health")
echo "     $health"
grep -q '"waiting for the time' <<<"$health" || fail "/health does not say the clock is not believed: $health"
echo "  ok: /health says the appliance waits for the time (RTC at 2020-01-01, no time source)"
answer=$(curl -s -X POST -H "X-NTPP-Secret: $secret" -H 'Content-Type: application/json' \
  --data '{"contact_id":"boot-check","message":{"body":"Is anyone there?"}}' \
  "http://127.0.0.1:$webhook_port/webhook/ghl/inbound_sms")
grep -q '"deferred":"waiting for the time"' <<<"$answer" || fail "the webhook was not kept for later: $answer"
echo "  ok: webhook through the VM's network, kept until the time is known: $answer"
status=$(curl -s -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin_port/api/status")
grep -q '"outcome":"deferred: waiting for the time"' <<<"$status" || fail "the event is not stored: $status"
issues=$(curl -s -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin_port/api/issues")
grep -q boot-check <<<"$issues" && fail "an issue was judged by a clock that cannot be believed: $issues"
echo "  ok: the event is in the appliance's database, and no issue was judged by the wrong clock"
on_console "Failed to start\|FAILED" && fail "a unit failed during boot"
echo "  ok: no unit failed"
on_console "Using hardware watchdog" || fail "PID 1 did not take the hardware watchdog"
echo "  ok: PID 1 feeds the hardware watchdog ($(grep -o "Using hardware watchdog '[^']*'" "$tmp/console.log" | head -1))"

# Power off through the virt board's power button (logind acts on it), then look at the disk.
# The press is repeated: one that arrives while the guest is busy can go unnoticed.
monitor() {
  python3 - "$tmp/monitor" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.recv(4096)                      # the monitor's banner
s.sendall((sys.argv[2] + "\n").encode())
time.sleep(1)                     # let QEMU act before the connection closes
s.close()
PY
}
for press in 1 2 3 4; do
  monitor system_powerdown || true
  for _ in $(seq 1 15); do kill -0 "$qemu_pid" 2>/dev/null || break 2; sleep 2; done
  echo "  note: power button press $press went unanswered"
done
if kill -0 "$qemu_pid" 2>/dev/null; then fail "no clean power-off within 2 minutes"; fi
qemu_pid=""
echo "  ok: clean power-off ($(( $(date +%s) - started )) s in all)"
mdir -b -i "$fat" ::sentinel.env >/dev/null 2>&1 && fail "sentinel.env is still on the boot partition"
mtype -i "$fat" ::sentinel-imported.txt >/dev/null || fail "no sentinel-imported.txt on the boot partition"
echo "  ok: no secret left on the boot partition"
read -r data_start data_size < <(part 3)
[ "$(( data_size / 2048 ))" -gt 1000 ] || fail "the data partition was not grown: $(( data_size / 2048 )) MiB"
echo "  ok: data partition is $(( data_size / 2048 )) MiB"
dd if="$tmp/disk.img" of="$tmp/data.ext4" bs=512 skip="$data_start" count="$data_size" status=none
if debugfs -R "ls -l /timesync" "$tmp/data.ext4" 2>/dev/null | grep -qw clock; then
  echo "  ok: timesyncd's clock file is on the data partition"
else
  echo "  note: timesyncd left no clock file on the data partition (it writes one once synchronized)"
fi
rm -f "$tmp/data.ext4"
[ "$(root_sum)" = "$root_before" ] || fail "the root partition changed during the boot: it was not read-only"
echo "  ok: root partition unchanged by the boot (read-only)"
cp "$tmp/console.log" "$keep_console"

# Second power-on: the clock is given (the VM's RTC at the host's time, and the operator's
# CLOCK_SYNC=off in a new sentinel.env, since no NTP server is reachable here). The webhook
# kept in the first boot is judged now; a reboot lost its monotonic reading, so it is dated at
# the latest it can have arrived (now): due two business hours on, nothing overdue, no alert.
vm_env "$secret" CLOCK_SYNC=off
started=$(date +%s)
vm_boot
echo "== power-on 2, with the time given"
wait_for "sentinel.service READY" 300 on_console "Started sentinel.service\|Started Sentinel missed-contact watchdog"
wait_for "/health answered" 120 curl -sf "http://127.0.0.1:$admin_port/health"
judged() { curl -s -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin_port/api/issues?status=PENDING" | grep -q boot-check; }
wait_for "the kept webhook judged, PENDING" 60 judged
issue=$(curl -s -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin_port/api/issues?status=PENDING")
due=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["issues"][0]["due_at"])' "$issue")
python3 -c 'import datetime,sys; due = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")); sys.exit(0 if due > datetime.datetime.now(datetime.timezone.utc) else 1)' "$due" \
  || fail "the judged issue is due in the past: $due"
echo "  ok: judged at the time given, due $due, nothing overdue"
vm_kill
echo "boot check: ok (console: $keep_console)"
