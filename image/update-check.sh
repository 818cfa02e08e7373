#!/usr/bin/env bash
# The update under QEMU (issue 16): boots an SD-card image built with `image/build.sh
# --trust-key KEY.pub --test-shell` under qemu-system-aarch64 and, with webhooks flowing
# throughout (a loop on the host posting through the forwarded port, noting each one answered
# 2xx), checks from outside that
#   1. `sentinel update URL` of a good signed bundle, run in the VM as the sentinel user, installs
#      it in a slot, restarts into it, and the version is confirmed: /api/status shows the new
#      version, the slot and "updated to …";
#   2. an update to a bundle that never becomes healthy (the test hook
#      SENTINEL_TEST_UNHEALTHY_VERSION, set for the service in /run, never on the image) rolls
#      back by itself to the good version, and /api/status says so;
#   3. after power-off, every webhook acknowledged with a 2xx is in the database;
#   4. image/reflash.sh writes the image's boot and root partitions over the card's, and the
#      next boot runs the factory binary on the same database and settings (the OS update).
# Before the update, in the same boot (image/lan-checks.sh): the office Wi-Fi for real on two
# mac80211_hwsim radios (a refused password in plain words, then joined, an address by DHCP, a
# webhook through the radio stored, the box's name answered by mDNS; issue 28), and two
# locations side by side, sentinel@dallas and sentinel@austin (issue 29).
# The bundles are served over HTTP from 127.0.0.1 on the host (the VM reaches it as 10.0.2.2);
# commands run through the CI-only root shell on the virtio port "sentinel.test-shell", whose
# host end is a pipe here. UPDATE_TRIAL_MINUTES is 2. It works on a copy; the image is not
# changed. About 6 minutes under software emulation.
#
#   image/update-check.sh IMAGE GOOD.bundle BAD.bundle [KEY.pub]
#
# Both bundles must be newer than the image's binary and signed by a key the image trusts; KEY,
# when given, is checked to be among the image's trusted keys first.
set -euo pipefail
img="${1:?usage: image/update-check.sh IMAGE GOOD.bundle BAD.bundle [KEY.pub]}"
good="${2:?usage: image/update-check.sh IMAGE GOOD.bundle BAD.bundle [KEY.pub]}"
bad="${3:?usage: image/update-check.sh IMAGE GOOD.bundle BAD.bundle [KEY.pub]}"
key="${4:-}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_workdir
flood_pid="" http_pid="" reader_pid="" ghl_pid=""
stop_helpers() {
  for pid in $flood_pid $http_pid $reader_pid $ghl_pid; do kill "$pid" 2>/dev/null || true; done
}
trap 'stop_helpers; vm_cleanup' EXIT
keep_console="$(dirname "$img")/update-check-console.log"
started=$(date +%s)
say() { echo "  ok: $* ($(( $(date +%s) - started )) s)"; }

# A bundle's version, from its manifest (the second line of the file is its JSON).
version_of() { python3 -c 'import json,sys; f=open(sys.argv[1],"rb"); f.readline(); n=int(f.readline().split()[1]); print(json.loads(f.read(n))["version"])' "$1"; }
good_version=$(version_of "$good")
bad_version=$(version_of "$bad")
[ "$good_version" != "$bad_version" ] || fail "the two bundles have the same version $good_version"

vm_disk "$img" +512M
if [ -n "$key" ]; then
  read -r root_start root_size < <(part 2)
  dd if="$tmp/disk.img" of="$tmp/root.ext4" bs=512 skip="$root_start" count="$root_size" status=none
  trusted=no
  for name in $(debugfs -R "ls /usr/share/sentinel/keys" "$tmp/root.ext4" 2>/dev/null | tr -s ' ' '\n' | grep '\.pub$'); do
    debugfs -R "dump /usr/share/sentinel/keys/$name $tmp/trusted.pub" "$tmp/root.ext4" >/dev/null 2>&1
    cmp -s "$tmp/trusted.pub" "$key" && trusted=yes
  done
  rm -f "$tmp/root.ext4"
  [ "$trusted" = yes ] || fail "the image does not trust $key (image/build.sh --trust-key)"
  say "the image trusts $(basename "$key")"
fi
secret=update-check-$(date +%s)
# shellcheck source-path=SCRIPTDIR source=lan-checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/lan-checks.sh"
vm_env "$secret" CLOCK_SYNC=off UPDATE_TRIAL_MINUTES=2 "${wifi_env[@]}"
webhook_port=$(free_port) admin_port=$(free_port) http_port=$(free_port)

# The bundles, over HTTP on the host's loopback.
mkdir "$tmp/www"
cp "$good" "$tmp/www/good.bundle" && cp "$bad" "$tmp/www/bad.bundle"
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$http_port" >"$tmp/http.log" 2>&1 &
http_pid=$!

# The shell's pipe: QEMU reads $tmp/shell.in and writes $tmp/shell.out; a reader keeps a log.
mkfifo "$tmp/shell.in" "$tmp/shell.out"
: > "$tmp/shell.log"
vm_boot -device virtio-serial-pci -chardev "pipe,id=shell,path=$tmp/shell" \
  -device virtserialport,chardev=shell,name=sentinel.test-shell
cat "$tmp/shell.out" >> "$tmp/shell.log" &
reader_pid=$!

# vm_run SECONDS COMMAND: runs COMMAND in the VM's root shell and prints its output; returns
# its exit code (fails the check when there is no answer within SECONDS).
vm_run() {
  local limit=$1 command=$2 mark from deadline
  mark="--done-$RANDOM$RANDOM"
  from=$(stat -c %s "$tmp/shell.log")
  # The mark goes on a line of its own, even after output with no newline at its end.
  printf '( %s ) </dev/null 2>&1; echo "\n%s $?"\n' "$command" "$mark" > "$tmp/shell.in"
  deadline=$(( $(date +%s) + limit ))
  until tail -c +"$(( from + 1 ))" "$tmp/shell.log" | grep -q -- "^$mark "; do
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited while running: $command"
    [ "$(date +%s)" -lt "$deadline" ] || fail "no answer within $limit s from: $command"
    sleep 1
  done
  tail -c +"$(( from + 1 ))" "$tmp/shell.log" | sed -n "/^$mark /q;p" | sed '$ { /^$/d }'
  return "$(tail -c +"$(( from + 1 ))" "$tmp/shell.log" | sed -n "s/^$mark //p")"
}

# vm_sh SECONDS COMMAND: as vm_run, and fails unless COMMAND exits 0.
vm_sh() {
  local out code=0
  out=$(vm_run "$@") || code=$?
  printf '%s\n' "$out"
  [ "$code" = 0 ] || fail "in the VM, exit $code: $2"$'\n'"$out"
}

# wait_for (lib.sh): a timeout shows the last status, and a success is said with `say`.
wait_detail() { echo " (last status: $(api_status))"; }
wait_said() { say "$1"; }
api_status() { curl -s -m 5 -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin_port/api/status" || true; }
# status_is PYTHON-EXPRESSION: /api/status, as `s`, makes the expression true.
status_is() {
  python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$(api_status)" "$1"
}

echo "== update check: $(basename "$img"), then $good_version (good) and $bad_version (never healthy)"
wait_for "sentinel.service READY" 400 grep -q "Started sentinel.service\|Started Sentinel missed-contact watchdog" "$tmp/console.log"
wait_for "/health answered" 120 curl -sf "http://127.0.0.1:$admin_port/health"
factory_version=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["version"])' "$(api_status)")
vm_sh 120 "echo shell up" >/dev/null
say "the test shell answers; the factory binary runs $factory_version"

# Before the update, in the same boot: the office Wi-Fi and the name on the LAN (issue 28), and
# two locations side by side (issue 29); image/lan-checks.sh.
wifi_check
instances_check

# Webhooks throughout: one after another, each a new message id; refused connections (during
# the restarts) are counted and tried with the next id. Stops when $tmp/stop exists.
: > "$tmp/acked"
python3 "$(dirname "${BASH_SOURCE[0]}")/flood.py" "$webhook_port" "$secret" update "$tmp/acked" \
  --until "$tmp/stop" "$tmp/flood.txt" &
flood_pid=$!

# `sentinel update` runs as a person would type it, as the sentinel user, from / (the launcher
# points it at the service's data directory).
# The hooks for the bad version, for the service only and only until the next boot (/run).
vm_sh 30 "mkdir -p /run/systemd/system/sentinel.service.d && printf '[Service]\nEnvironment=SENTINEL_TEST_HOOKS=1 SENTINEL_TEST_UNHEALTHY_VERSION=$bad_version\n' > /run/systemd/system/sentinel.service.d/test-hooks.conf && systemctl daemon-reload" >/dev/null

# 1. The good update.
echo "-- sentinel update http://10.0.2.2:$http_port/good.bundle"
vm_sh 300 "cd / && runuser -u sentinel -- /usr/local/bin/sentinel update http://10.0.2.2:$http_port/good.bundle" | sed 's/^/     /'
wait_for "$good_version confirmed healthy" 300 status_is \
  "s['version'] == '$good_version' and s['update']['slot'] in ('a', 'b') and not s['update'].get('trial') and s['update']['last'].startswith('updated to $good_version')"
good_slot=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["update"]["slot"])' "$(api_status)")
echo "     $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["update"])' "$(api_status)")"

# 2. The bad update: installed, then rolled back by itself.
echo "-- sentinel update http://10.0.2.2:$http_port/bad.bundle"
vm_sh 300 "cd / && runuser -u sentinel -- /usr/local/bin/sentinel update http://10.0.2.2:$http_port/bad.bundle" | sed 's/^/     /'
wait_for "$bad_version rolled back to $good_version in slot $good_slot" 420 status_is \
  "s['version'] == '$good_version' and s['update']['slot'] == '$good_slot' and not s['update'].get('trial') and 'rolled back' in s['update']['last'] and '$bad_version' in s['update']['last']"
echo "     $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["update"])' "$(api_status)")"
vm_sh 30 "readlink /var/lib/sentinel/slots/current" | grep -qx "$good_slot" || fail "slots/current is not $good_slot"
say "slots/current -> $good_slot on the data partition"
# After all those starts, the data partition's top and the tunnel's directory are still root's
# (systemd's StateDirectory= would have handed them to the service user; issue 23), and a
# command typed as root runs, as the service user, through the launcher.
owners=$(vm_sh 30 "stat -c '%U:%G %a %n' /var/lib/sentinel /var/lib/sentinel/tunnel")
grep -qx 'root:sentinel 1770 /var/lib/sentinel' <<<"$owners" || fail "the data partition's top is not root's: $owners"
grep -qx 'root:root 700 /var/lib/sentinel/tunnel' <<<"$owners" || fail "the tunnel's directory is not root's: $owners"
status_typed=$(vm_sh 60 "cd /root && /usr/local/bin/sentinel status")
grep -q "$good_version" <<<"$status_typed" || fail "sentinel status typed as root does not show $good_version:"$'\n'"$status_typed"
say "the data partition's top and tunnel/ are root's after every start; sentinel status typed as root works"
notices=$(vm_sh 30 "journalctl -b --no-pager -u sentinel.service | grep -c 'rolled back' || true")
echo "     the journal mentions the rollback $notices times"

# 3. Every acknowledged webhook kept.
sleep 3
touch "$tmp/stop"
wait "$flood_pid" 2>/dev/null || true
flood_pid=""
echo "     webhooks: $(cat "$tmp/flood.txt")"
[ "$(wc -l < "$tmp/acked")" -gt 0 ] || fail "no webhook was acknowledged"
vm_sh 60 "systemctl stop sentinel.service && sync" >/dev/null
vm_kill
summary=$(vm_check_data "$tmp/acked") || exit 1
say "after power-off: $summary"

# 4. The OS re-flashed with the data kept (image/reflash.sh): the image's boot and root
# partitions written over the card's, here the same image (a newer one goes the same way).
# The next boot runs the image's factory binary, on the same database and settings.
echo "-- image/reflash.sh $(basename "$img") onto the card"
bash "$(dirname "${BASH_SOURCE[0]}")/reflash.sh" "$img" "$tmp/disk.img" | sed 's/^/     /'
# shellcheck disable=SC2119 # (vm_boot takes QEMU options, none here)
vm_boot
wait_for "READY after the re-flash" 400 grep -q "Started sentinel.service\|Started Sentinel missed-contact watchdog" "$tmp/console.log"
wait_for "the factory binary, with the settings and the update record kept" 120 status_is \
  "s['version'] == '$factory_version' and s['update']['slot'] == 'factory' and '$bad_version' in (s['update']['last'] or '')"
vm_kill
summary=$(vm_check_data "$tmp/acked") || exit 1
say "after the re-flash: $summary"
cp "$tmp/console.log" "$keep_console"
echo "update check: ok in $(( $(date +%s) - started )) s (console: $keep_console)"
