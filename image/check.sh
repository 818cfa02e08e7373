#!/usr/bin/env bash
# Checks an SD-card image's structure without booting it, mounting it or being root: the
# partition table, the boot files the firmware needs, Sentinel's binary, units and settings on
# the root, and a clean empty data partition. Prints each check; exits 1 on the first failure.
#
#   image/check.sh target/image/sentinel-<version>-arm64.img --trust-key KEY.pub [--trust-key KEY.pub ...]
#   image/check.sh target/image/sentinel-<version>-arm64.img --no-trust-key
#
# The keys are those the image was built with (image/build.sh passes its own): the image must
# trust exactly those, or none with --no-trust-key.
set -euo pipefail
usage="usage: image/check.sh IMAGE --trust-key KEY.pub [--trust-key KEY.pub ...] | --no-trust-key"
img="${1:?$usage}"
shift
source "$(dirname "$0")/keys.sh"
trust_keys=()
no_trust_key=0
while [ $# -gt 0 ]; do
  case "$1" in
    --trust-key) trust_keys+=("${2:?$usage}"); shift 2 ;;
    --no-trust-key) no_trust_key=1; shift ;;
    *) echo "unknown argument $1; $usage" >&2; exit 2 ;;
  esac
done
# Exactly one of the two: some keys, or none said out loud.
if [ "$(( ${#trust_keys[@]} > 0 ))" -eq "$no_trust_key" ]; then
  echo "$usage" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { echo "  ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# The partition table: sfdisk -d prints "img1 : start= 8192, size= 524288, type=c, bootable".
table=$(sfdisk -d "$img")
field() { sed -n "s|^$img$1 : .*$2= *\([^,]*\).*|\1|p" <<<"$table"; }
[ "$(grep -c "^$img[0-9] :" <<<"$table")" -eq 3 ] || fail "expected 3 partitions:"$'\n'"$table"
[ "$(field 1 type)" = c ] && grep -q "^${img}1 :.*bootable" <<<"$table" || fail "p1 is not a bootable FAT32 (LBA) partition"
[ "$(field 1 start)" -eq 8192 ] || fail "p1 must start at 4 MiB, as Pi images do"
[ "$(field 2 type)" = 83 ] && [ "$(field 3 type)" = 83 ] || fail "p2 and p3 must be Linux partitions"
ok "MBR: p1 FAT32 bootable at 4 MiB, p2 and p3 Linux"
for n in 1 2 3; do
  dd if="$img" of="$tmp/p$n" bs=512 skip="$(field $n start)" count="$(field $n size)" status=none
done

# p1: what the Pi firmware reads.
fat() { mtype -i "$tmp/p1" "::$1"; }
mlabel -s -i "$tmp/p1" :: | grep -q GHLBOOT || fail "p1 is not labelled GHLBOOT"
config=$(fat config.txt) || fail "no config.txt"
grep -q '^arm_64bit=1' <<<"$config" || fail "config.txt does not boot 64-bit"
kernel=$(sed -n 's/^kernel=//p' <<<"$config")
initrd=$(sed -n 's/^initramfs \([^ ]*\).*/\1/p' <<<"$config")
for f in bootcode.bin start4.elf fixup4.dat bcm2711-rpi-4-b.dtb bcm2837-rpi-3-b-plus.dtb bcm2837-rpi-zero-2-w.dtb \
         "$kernel" "$initrd" sentinel.env README.txt; do
  [ -n "$f" ] && mdir -b -i "$tmp/p1" "::$f" >/dev/null 2>&1 || fail "boot partition lacks ${f:-the kernel or initrd named in config.txt}"
done
cmdline=$(fat cmdline.txt)
case " $cmdline " in *" root=LABEL=root "*" ro "*) ;; *) fail "cmdline.txt must mount root=LABEL=root read-only: $cmdline" ;; esac
ok "boot: firmware, $kernel, $initrd, DTBs for Pi 3/4/Zero 2 W, sentinel.env; cmdline: $cmdline"

# p2: the read-only root.
e2fsck -fn "$tmp/p2" >/dev/null 2>&1 || fail "root filesystem is not clean"
[ "$(e2label "$tmp/p2")" = root ] || fail "p2 is not labelled root"
ls_root() { debugfs -R "$1" "$tmp/p2" 2>/dev/null; }
mode_of() { ls_root "stat $1" | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p'; }
ls_root "dump /usr/lib/sentinel/sentinel $tmp/sentinel"
[ -s "$tmp/sentinel" ] || fail "no /usr/lib/sentinel/sentinel (the factory binary)"
[ "$(mode_of /usr/lib/sentinel/sentinel)" = 0755 ] || fail "/usr/lib/sentinel/sentinel is not mode 0755"
file "$tmp/sentinel" | grep -q "ARM aarch64.*statically linked" || fail "sentinel is not a static aarch64 binary: $(file -b "$tmp/sentinel")"
ok "root: /usr/lib/sentinel/sentinel, static aarch64, $(stat -c %s "$tmp/sentinel") bytes"
ls_root "dump /usr/local/bin/sentinel $tmp/launcher"
cmp -s "$tmp/launcher" "$(dirname "$0")/../systemd/sentinel-launcher" || fail "/usr/local/bin/sentinel is not systemd/sentinel-launcher"
[ "$(mode_of /usr/local/bin/sentinel)" = 0755 ] || fail "/usr/local/bin/sentinel is not mode 0755"
ok "root: the launcher at /usr/local/bin/sentinel"
# The release keys: exactly those given, and nothing else (issue 23 part 4: no key from a
# machine nobody holds); image/keys.sh says what differs.
release_keys_check "$tmp/p2" "${trust_keys[@]}" || fail "the image's release keys are not exactly those given"
if [ "$no_trust_key" -eq 1 ]; then
  ok "root: no release key trusted (--no-trust-key): this image refuses every update"
else
  ok "root: the release keys trusted are exactly those given ($(for k in "${trust_keys[@]}"; do release_key_id "$k"; done | paste -sd' '))"
fi
for f in /etc/systemd/system/sentinel.service /etc/systemd/system/sentinel-rollback.service /etc/systemd/system/sentinel-import.service \
         /etc/systemd/system/sentinel@.service /etc/systemd/system/sentinel-rollback@.service \
         /etc/systemd/system/cloudflared.service /usr/share/sentinel/cloudflared.yml \
         /etc/systemd/system/rathole-client.service /etc/systemd/journald.conf.d/10-sentinel.conf \
         /etc/systemd/system.conf.d/10-hw-watchdog.conf /etc/udev/rules.d/99-sentinel-led.rules /usr/local/sbin/sentinel-import /etc/systemd/network/20-wired.network; do
  ls_root "stat $f" | grep -q "Type: regular" || fail "root lacks $f"
done
ok "root: units (Sentinel and its per-location template sentinel@.service, import, cloudflared with its ingress rules, rathole), journald drop-in, hardware watchdog, LED udev rule, import script, network"
# The self-hosted tunnel's client, baked in by default; its unit waits for an imported config.
ls_root "dump /usr/local/bin/rathole $tmp/rathole"
[ -s "$tmp/rathole" ] || fail "no /usr/local/bin/rathole (image/build.sh bakes cross/rathole.sh's build in)"
[ "$(mode_of /usr/local/bin/rathole)" = 0755 ] || fail "/usr/local/bin/rathole is not mode 0755"
file "$tmp/rathole" | grep -q "ARM aarch64.*statically linked" || fail "rathole is not a static aarch64 binary: $(file -b "$tmp/rathole")"
dropin=$(ls_root "cat /etc/systemd/system/rathole-client.service.d/sentinel.conf")
grep -qx 'ConditionPathExists=/etc/sentinel-tunnel/rathole-client.toml' <<<"$dropin" \
  || fail "rathole-client.service must run only once its configuration was imported"
ok "root: /usr/local/bin/rathole, static aarch64, $(stat -c %s "$tmp/rathole") bytes; its unit waits for rathole-client.toml"
for unit in sentinel.service sentinel-import.service rathole-client.service; do
  target=$(ls_root "stat /etc/systemd/system/multi-user.target.wants/$unit" | sed -n 's/^Fast link dest: "\(.*\)"/\1/p')
  [ "$target" = "/etc/systemd/system/$unit" ] || fail "$unit is not enabled"
done
ok "enabled: sentinel.service, sentinel-import.service, rathole-client.service (on its condition)"
fstab=$(ls_root "cat /etc/fstab")
grep -Eq '^LABEL=root[[:space:]]+/[[:space:]]+ext4[[:space:]]+ro,' <<<"$fstab" || fail "fstab does not mount / read-only"
grep -Eq '^LABEL=data[[:space:]]+/var/lib/sentinel[[:space:]]' <<<"$fstab" || fail "fstab does not mount the data partition"
grep -Eq '^LABEL=data[[:space:]]+/var/lib/sentinel[[:space:]]+ext4[[:space:]]+[^[:space:]]*noexec' <<<"$fstab" \
  && fail "the data partition is mounted noexec: the update slots' binaries could not run"
grep -Eq '^LABEL=GHLBOOT[[:space:]]+/boot/firmware[[:space:]]' <<<"$fstab" || fail "fstab does not mount the boot partition"
ok "fstab: / read-only, data on /var/lib/sentinel, boot on /boot/firmware"
ls_root "cat /etc/passwd" | grep -q '^sentinel:.*:/var/lib/sentinel:/usr/sbin/nologin$' || fail "no sentinel system user"
target=$(ls_root "stat /etc/sentinel" | sed -n 's/^Fast link dest: "\(.*\)"/\1/p')
[ "$target" = /var/lib/sentinel/etc ] || fail "/etc/sentinel does not point at the data partition"
[ -z "$(ls_root "cat /etc/machine-id")" ] || fail "/etc/machine-id must be empty in an image"
ok "sentinel user; /etc/sentinel -> /var/lib/sentinel/etc; empty machine-id"
# What the tunnel exposes, and its secrets, are root's alone (issue 23): /etc/sentinel-tunnel
# is root's directory on the data partition, every tunnel unit and drop-in reads from there,
# and the service cannot take the partition's top (StateDirectory= would give it away).
target=$(ls_root "stat /etc/sentinel-tunnel" | sed -n 's/^Fast link dest: "\(.*\)"/\1/p')
[ "$target" = /var/lib/sentinel/tunnel ] || fail "/etc/sentinel-tunnel does not point at root's tunnel directory"
for unit in /etc/systemd/system/cloudflared.service /etc/systemd/system/rathole-client.service \
            /etc/systemd/system/cloudflared.service.d/sentinel.conf /etc/systemd/system/rathole-client.service.d/sentinel.conf; do
  ls_root "cat $unit" | grep -E '^[A-Za-z]+=.*/etc/sentinel/' && fail "$unit reads the tunnel's files from the service user's /etc/sentinel"
done
sentinel_gid=$(ls_root "cat /etc/group" | awk -F: '$1 == "sentinel" { print $3 }')
# The template is the repository's, and no instance is enabled by the image (issue 29).
ls_root "dump /etc/systemd/system/sentinel@.service $tmp/sentinel@.service"
cmp -s "$tmp/sentinel@.service" "$(dirname "$0")/../systemd/sentinel@.service" || fail "/etc/systemd/system/sentinel@.service is not systemd/sentinel@.service"
grep -qx 'StateDirectory=sentinel/%i' "$tmp/sentinel@.service" || fail "sentinel@.service does not keep each location's data apart"
! ls_root "ls /etc/systemd/system/multi-user.target.wants" | grep -q 'sentinel@' || fail "the image enables an instance of sentinel@.service"
ok "root: sentinel@.service for several locations, enabled by none"
dropin=$(ls_root "cat /etc/systemd/system/sentinel.service.d/data.conf")
grep -qx 'StateDirectory=' <<<"$dropin" || fail "sentinel.service would chown the data partition's top to the service user"
grep -qx 'Environment=STATE_DIRECTORY=/var/lib/sentinel' <<<"$dropin" || fail "sentinel.service lacks its STATE_DIRECTORY"
ls_root "cat /usr/local/sbin/sentinel-import" | grep -q 'chmod 1770 "$data"' || fail "sentinel-import does not keep the data partition's top root's"
ok "tunnel: /etc/sentinel-tunnel -> /var/lib/sentinel/tunnel, root's; the units read it; the service does not own the data partition's top"

# p3: the data partition, empty until the first boot.
e2fsck -fn "$tmp/p3" >/dev/null 2>&1 || fail "data filesystem is not clean"
[ "$(e2label "$tmp/p3")" = data ] || fail "p3 is not labelled data"
debugfs -R "ls -l /" "$tmp/p3" 2>/dev/null | grep -qw timesync || fail "the data partition has no timesync directory"
grep -Eq '^/var/lib/sentinel/timesync[[:space:]]+/var/lib/systemd/timesync[[:space:]]+none[[:space:]]+bind' <<<"$fstab" \
  || fail "fstab does not keep timesyncd's clock file on the data partition"
data_stat() { debugfs -R "stat $1" "$tmp/p3" 2>/dev/null; }
data_stat / | grep -Eq 'Mode: +01770' || fail "the data partition's top is not mode 1770 (sticky)"
data_stat / | grep -Eq "User: +0 +Group: +$sentinel_gid\b" || fail "the data partition's top is not root:sentinel"
data_stat /tunnel | grep -Eq 'Mode: +0700' && data_stat /tunnel | grep -Eq 'User: +0 +Group: +0\b' \
  || fail "the data partition's tunnel directory is not root's, mode 0700"
ok "data: clean ext4 labelled data, with timesyncd's clock kept on it; its top root:sentinel 1770, tunnel/ root 0700"
echo "image structure: ok"
