# shellcheck shell=bash
# The QEMU set-up the image checks share (boot-, plug-, tunnel- and update-check.sh):
# sourced, not run.
#
# It owns the working directory ($tmp) and the VM: a grown copy of the image ($tmp/disk.img),
# the kernel and initrd taken from its own boot partition, the sentinel.env put there, and
# qemu-system-aarch64 -M virt with the image as a virtio disk and the guest's webhook (and
# admin) port forwarded to loopback. What to check, and how, stays in each script.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   vm_workdir                   # $tmp, removed on exit with the VM stopped
#   vm_disk "$img" +1G           # $tmp/disk.img, $fat, $tmp/vmlinuz, $tmp/initrd
#   vm_env "$secret" [SETTING...] # sentinel.env on the boot partition
#   webhook_port=$(free_port)    # (admin_port too, to forward the admin listener)
#   vm_boot [QEMU OPTIONS...]    # $qemu_pid, console in $tmp/console.log
#   wait_for WHAT SECONDS CMD... # until CMD succeeds; fails if QEMU exits or time is up
#   on_console TEXT              # the console log holds TEXT (a command for wait_for)
#   vm_check_data ACKED          # after power-off: every acknowledged webhook is stored

command -v qemu-system-aarch64 >/dev/null || {
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-arm
}

# vm_workdir: makes $tmp, and on exit stops the VM (if one runs) and removes $tmp. A script
# with more to stop sets its own EXIT trap and calls vm_cleanup last.
vm_workdir() {
  tmp=$(mktemp -d)
  qemu_pid=""
  trap vm_cleanup EXIT
}

vm_cleanup() {
  vm_kill
  rm -rf "$tmp"
}

# vm_kill: switches the VM off at once (SIGKILL: no shutdown, as a power cut) and waits until
# it is gone.
vm_kill() {
  if [ -n "$qemu_pid" ]; then
    kill -9 "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
  fi
}

# fail WHY: prints WHY and the console's last lines, keeps the whole console as $keep_console
# when that is set, and exits 1.
fail() {
  echo "FAIL: $*" >&2
  echo "--- console (last 60 lines)" >&2
  tail -60 "$tmp/console.log" >&2 || true
  if [ -n "${keep_console:-}" ]; then cp "$tmp/console.log" "$keep_console" 2>/dev/null || true; fi
  exit 1
}

# part N: the start and size, in 512-byte sectors, of partition N of $tmp/disk.img.
part() {
  sfdisk -d "$tmp/disk.img" | sed -n "s|.*$1 : start= *\\([0-9]*\\), size= *\\([0-9]*\\),.*|\\1 \\2|p"
}

# vm_disk IMAGE GROWTH: $tmp/disk.img, a sparse copy of IMAGE larger by GROWTH (truncate's
# +SIZE, as a bigger card would be); $fat, its boot partition as mtools names it; and the
# kernel and initrd that partition's config.txt names, as $tmp/vmlinuz and $tmp/initrd.
vm_disk() {
  local boot_start config
  cp --sparse=always "$1" "$tmp/disk.img"
  truncate -s "$2" "$tmp/disk.img"
  read -r boot_start _ < <(part 1)
  fat="$tmp/disk.img@@$(( boot_start * 512 ))"
  config=$(mtype -i "$fat" ::config.txt)
  mcopy -i "$fat" "::$(sed -n 's/^kernel=//p' <<<"$config")" "$tmp/vmlinuz"
  mcopy -i "$fat" "::$(sed -n 's/^initramfs \([^ ]*\).*/\1/p' <<<"$config")" "$tmp/initrd"
}

# vm_env SECRET [SETTING...]: puts a sentinel.env on the boot partition, which the next boot
# imports (and removes): SECRET as the webhook secret, both listeners on all addresses so that
# QEMU's port forward reaches them (on a real box the defaults, loopback, stay), then SETTINGs
# such as CLOCK_SYNC=off.
vm_env() {
  printf '%s\n' "WEBHOOK_SECRET=$1" LISTEN_ADDR=0.0.0.0:8000 ADMIN_LISTEN_ADDR=0.0.0.0:8001 "${@:2}" > "$tmp/sentinel.env"
  mcopy -o -i "$fat" "$tmp/sentinel.env" ::sentinel.env
}

# free_port: a loopback TCP port nobody holds now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# vm_boot [QEMU OPTIONS...]: powers the VM on in the background with a fresh console log, the
# guest's 8000 forwarded to 127.0.0.1:$webhook_port and, when $admin_port is set, 8001 to
# 127.0.0.1:$admin_port; the options are added to QEMU's. Sets $qemu_pid.
vm_boot() {
  local forward="hostfwd=tcp:127.0.0.1:${webhook_port:?vm_boot needs webhook_port}-:8000"
  if [ -n "${admin_port:-}" ]; then forward+=",hostfwd=tcp:127.0.0.1:$admin_port-:8001"; fi
  : > "$tmp/console.log"
  qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -accel tcg,thread=multi \
    -kernel "$tmp/vmlinuz" -initrd "$tmp/initrd" \
    -append "root=LABEL=root ro rootwait console=ttyAMA0 net.ifnames=0 systemd.journald.forward_to_console=1" \
    -drive if=none,id=sd,file="$tmp/disk.img",format=raw -device virtio-blk-pci,drive=sd \
    -netdev "user,id=net,restrict=off,$forward" -device virtio-net-pci,netdev=net,romfile= \
    -display none -serial "file:$tmp/console.log" "$@" &
  qemu_pid=$!
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 2 s until it succeeds, then prints "ok:
# WHAT" with the seconds since $started (the script's power-on). Fails when QEMU ($qemu_pid)
# exits or SECONDS pass. A script with more to watch defines, before calling it:
#   wait_also     checks of its own each round (it calls fail itself), e.g. a second process;
#   wait_detail   what a timeout's message adds, e.g. the last status or a log's tail;
#   wait_said     how a success is printed (given WHAT), in place of the line above.
wait_for() {
  local what=$1 limit=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited while waiting for $what"
    if declare -F wait_also >/dev/null; then wait_also; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      local detail=""
      if declare -F wait_detail >/dev/null; then detail=$(wait_detail); fi
      fail "no $what within $limit s$detail"
    fi
    sleep 2
  done
  if declare -F wait_said >/dev/null; then
    wait_said "$what"
  else
    echo "  ok: $what ($(( $(date +%s) - started )) s after power-on)"
  fi
}

# on_console TEXT: the console log holds TEXT (a grep pattern); a command for wait_for.
on_console() { grep -q "$1" "$tmp/console.log"; }

# vm_check_data ACKED: with the VM off (after a clean power-off or a cut), the data partition's
# journal replays, it checks clean, and its database passes integrity_check and holds every
# webhook whose messageId is a line of the file ACKED (those answered 2xx). Prints a summary.
vm_check_data() {
  local start size
  read -r start size < <(part 3)
  dd if="$tmp/disk.img" of="$tmp/data.ext4" bs=512 skip="$start" count="$size" status=none
  e2fsck -fy "$tmp/data.ext4" >"$tmp/fsck.log" 2>&1 || [ $? -le 1 ] || { cat "$tmp/fsck.log" >&2; fail "the data filesystem needed repair"; }
  e2fsck -fn "$tmp/data.ext4" >/dev/null 2>&1 || fail "the data filesystem is not clean after its journal replayed"
  rm -rf "$tmp/db" && mkdir "$tmp/db"
  for file in sentinel.db sentinel.db-wal; do
    debugfs -R "dump /$file $tmp/db/$file" "$tmp/data.ext4" >/dev/null 2>&1 || true
  done
  [ -s "$tmp/db/sentinel.db" ] || fail "no database on the data partition"
  python3 - "$tmp/db/sentinel.db" "$1" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
check = db.execute("PRAGMA integrity_check").fetchone()[0]
if check != "ok":
    sys.exit(f"integrity_check: {check}")
stored = {json.loads(body).get("messageId") for (body,) in db.execute("SELECT body FROM raw_events")}
acked = [line.strip() for line in open(sys.argv[2]) if line.strip()]
missing = [m for m in acked if m not in stored]
if missing:
    sys.exit(f"{len(missing)} acknowledged webhooks are missing, e.g. {missing[:3]}")
print(f"{len(acked)} acknowledged webhooks, all stored; integrity_check ok")
PY
  rm -f "$tmp/data.ext4"
}
