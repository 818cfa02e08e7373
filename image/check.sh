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
ok "boot: firmware, $kernel, $initrd, DTBs, sentinel.env; cmdline: $cmdline"

# The boards (issue 28), checked without them: every board's device tree; the kernel new enough
# for the Pi 5; the Pi 5's LED overlay applied to its DTB; and below, the drivers and firmware.
boards=(bcm2837-rpi-3-b bcm2837-rpi-3-b-plus bcm2837-rpi-zero-2-w bcm2711-rpi-4-b bcm2711-rpi-400
        bcm2712-rpi-5-b bcm2712-d-rpi-5-b)
for board in "${boards[@]}"; do
  mcopy -n -i "$tmp/p1" "::$board.dtb" "$tmp/$board.dtb" 2>/dev/null || fail "boot partition lacks $board.dtb"
done
kver=${kernel#vmlinuz-}
IFS=. read -r kmajor kminor _ <<<"$kver"
[ "$kmajor" -gt 6 ] || { [ "$kmajor" -eq 6 ] && [ "$kminor" -ge 17 ]; } \
  || fail "kernel $kver is older than 6.17, the first to drive the Pi 5's RP1 (Ethernet, USB, GPIO)"
# config.txt: the Pi 5's section loads the LED overlay, and what follows it applies to all again.
awk '/^\[/ { section = $0; next } section == "[pi5]" && $0 == "dtoverlay=sentinel-pi5-act-led" { found = 1 } END { exit !found }' \
  <<<"$config" || fail "config.txt has no [pi5] section loading dtoverlay=sentinel-pi5-act-led"
[ "$(grep '^\[' <<<"$config" | tail -1)" = "[all]" ] || fail "config.txt does not end its board sections with [all]"
mcopy -n -i "$tmp/p1" ::overlays/sentinel-pi5-act-led.dtbo "$tmp/led.dtbo" 2>/dev/null || fail "no overlays/sentinel-pi5-act-led.dtbo"
# Each board's status LED is /sys/class/leds/ACT (the udev rule's name) and each has the PM block
# whose watchdog bcm2835_wdt drives: the Pi 5's only once its overlay is applied.
for board in "${boards[@]}"; do
  dtb=$tmp/$board.dtb
  case "$board" in
    bcm2712-*)
      fdtoverlay -i "$dtb" -o "$tmp/$board+led.dtb" "$tmp/led.dtbo" || fail "the LED overlay does not apply to $board.dtb"
      gio_aon=$(fdtget -t x "$dtb" "$(fdtget "$dtb" /__symbols__ gio_aon)" phandle) || fail "$board.dtb has no gio_aon"
      [ "$(fdtget -t x "$tmp/$board+led.dtb" /leds/led-act gpios)" = "$gio_aon 9 1" ] \
        || fail "on $board the ACT LED is not gio_aon line 9, active low"
      dtb=$tmp/$board+led.dtb ;;
  esac
  # The Pi 400 has no activity LED (its one LED, power, is the firmware's): Sentinel runs
  # without one there, and `sentinel status` tells what the LED would.
  if [ "$board" != bcm2711-rpi-400 ]; then
    [ "$(fdtget "$dtb" /leds/led-act label 2>/dev/null)" = ACT ] || fail "$board has no LED labelled ACT"
  fi
  pm=$(fdtget "$dtb" /__symbols__ pm 2>/dev/null) || fail "$board.dtb has no PM block (the watchdog)"
  fdtget "$dtb" "$pm" compatible | grep -qw 'brcm,bcm2835-pm-wdt' || fail "$board's PM block is not one bcm2835_wdt drives"
done
ok "boards: DTBs for Pi 3, 3+, Zero 2 W, 4, 400 and 5 (C1 and D0); kernel $kver (6.17 or later); [pi5] loads the ACT LED overlay (gio_aon 9, active low); each board but the 400 (which has none) an LED named ACT, and each a bcm2835_wdt watchdog"

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

# The drivers each board needs, from the kernel's own module tables in the root (what modprobe
# and udev use): a device tree or PCI id each, and the module (or built-in driver) it loads.
modules=/usr/lib/modules/$kver
for table in modules.alias modules.dep modules.builtin; do
  ls_root "dump $modules/$table $tmp/$table"
  [ -s "$tmp/$table" ] || fail "the root has no $modules/$table (kernel $kver)"
done
driver_for() {
  local module
  module=$(awk -v alias="$1" '$1 == "alias" && $2 == alias { print $3; exit }' "$tmp/modules.alias")
  [ -n "$module" ] || return 1
  grep -q "/${module//_/[-_]}\.ko" "$tmp/modules.dep" "$tmp/modules.builtin" || return 1
  echo "$module"
}
found=""
for pair in "pci:v00001DE4d00000001sv*sd*bc*sc*i*=Pi 5 RP1 south bridge" "of:N*T*Craspberrypi,rp1-gem=Pi 5 Ethernet" \
            "of:N*T*Craspberrypi,rp1-gpio=Pi 5 GPIO" "of:N*T*Craspberrypi,rp1-clocks=Pi 5 RP1 clocks" \
            "of:N*T*Cbrcm,bcm2712-sdhci=Pi 5 SD card" "of:N*T*Cbrcm,brcmstb-gpio=Pi 5 LED's GPIO" \
            "of:N*T*Cgpio-leds=the LED" "platform:bcm2835-wdt=the watchdog" \
            "of:N*T*Cbrcm,bcm2711-genet-v5=Pi 4 Ethernet" "of:N*T*Cbrcm,bcm2711-emmc2=Pi 4 SD card" \
            "of:N*T*Cbrcm,bcm2835-sdhost=Pi 3 and Zero 2 W SD card" \
            "sdio:c*v02D0dA9BF*=Wi-Fi CYW43455 (Pi 3+, 4, 400, 5)" "sdio:c*v02D0dA9A6*=Wi-Fi CYW43430 (Pi 3, Zero 2 W)"; do
  module=$(driver_for "${pair%%=*}") || fail "kernel $kver has no driver for the ${pair#*=} (${pair%%=*})"
  found+="${pair#*=}: $module; "
done
ok "kernel drivers: ${found%; }"
# The PM block is built in (bcm2835_pm), and it must take the Pi 5's as well.
ls_root "dump $modules/modules.builtin.modinfo $tmp/builtin.modinfo"
[ "$(tr '\0' '\n' < "$tmp/builtin.modinfo" | grep -cx 'bcm2835_pm.alias=of:N\*T\*Cbrcm,bcm2712-pm')" -gt 0 ] \
  || fail "the built-in bcm2835_pm does not take the Pi 5's PM block (brcm,bcm2712-pm), so no watchdog there"
# The initramfs finds the root on every board's SD controller.
python3 "$(dirname "$0")/initrd-list.py" <(mtype -i "$tmp/p1" "::$initrd") > "$tmp/initrd.txt" || fail "cannot read $initrd"
for ko in sdhci-brcmstb sdhci-iproc mmc/host/bcm2835; do
  grep -q "/$ko\.ko" "$tmp/initrd.txt" || fail "$initrd lacks $ko.ko: the root on that board's SD card is not found"
done
ok "initramfs: the SD drivers of the Pi 5 (sdhci-brcmstb), Pi 4 (sdhci-iproc) and Pi 3/Zero 2 W (bcm2835)"
# The Wi-Fi chips' firmware and each board's calibration file (links followed, inside the root).
firmware_present() {
  local path=$1 kind target
  for _ in 1 2 3; do
    kind=$(ls_root "stat $path" | sed -n 's/.*Type: \([a-z]*\).*/\1/p')
    case "$kind" in
      regular) return 0 ;;
      symlink)
        target=$(ls_root "stat $path" | sed -n 's/^Fast link dest: "\(.*\)"/\1/p')
        case "$target" in /*) path=$target ;; *) path=$(dirname "$path")/$target ;; esac ;;
      *) return 1 ;;
    esac
  done
  return 1
}
brcm=/usr/lib/firmware/brcm
for file in brcmfmac43455-sdio.bin brcmfmac43455-sdio.clm_blob brcmfmac43455-sdio.raspberrypi,3-model-b-plus.txt \
            brcmfmac43455-sdio.raspberrypi,4-model-b.txt brcmfmac43455-sdio.raspberrypi,5-model-b.txt \
            brcmfmac43430-sdio.bin brcmfmac43430-sdio.clm_blob brcmfmac43430-sdio.raspberrypi,3-model-b.txt \
            brcmfmac43430-sdio.raspberrypi,model-zero-2-w.txt; do
  firmware_present "$brcm/$file" || fail "the root lacks the Wi-Fi firmware $brcm/$file"
done
firmware_present /usr/lib/firmware/regulatory.db || fail "the root lacks the Wi-Fi regulatory database"
ok "Wi-Fi firmware: CYW43455 (Pi 3+, 4, 400, 5) and CYW43430 (Pi 3, Zero 2 W), each board's calibration file, regulatory.db"
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
# The office Wi-Fi and the name on the LAN (issue 28): wpa_supplicant started by udev for each
# wlan interface, networkd's DHCP on it behind a cable, resolved answering mDNS on both; and
# none of the CI image's access point or DHCP server.
for f in /usr/sbin/wpa_supplicant /usr/bin/wpa_passphrase /usr/sbin/iw /usr/bin/stdbuf /etc/systemd/system/sentinel-wifi@.service \
         /usr/local/sbin/sentinel-wifi /etc/udev/rules.d/90-sentinel-wifi.rules /etc/systemd/network/30-wireless.network \
         /etc/systemd/resolved.conf.d/sentinel.conf; do
  ls_root "stat $f" | grep -q "Type: regular" || fail "root lacks $f"
done
ls_root "cat /etc/udev/rules.d/90-sentinel-wifi.rules" | grep -q 'SYSTEMD_WANTS}+="sentinel-wifi@%k.service"' \
  || fail "udev does not start sentinel-wifi@ for a wlan interface"
ls_root "cat /etc/systemd/resolved.conf.d/sentinel.conf" | grep -qx 'MulticastDNS=yes' || fail "resolved does not answer mDNS"
for net in 20-wired 30-wireless; do
  ls_root "cat /etc/systemd/network/$net.network" | grep -qx 'MulticastDNS=yes' || fail "$net.network does not answer mDNS"
done
wired=$(ls_root "cat /etc/systemd/network/20-wired.network" | sed -n 's/^RouteMetric=//p' | head -1)
wireless=$(ls_root "cat /etc/systemd/network/30-wireless.network" | sed -n 's/^RouteMetric=//p' | head -1)
[ "${wired:-0}" -lt "${wireless:-0}" ] || fail "with both, the cable must carry (route metrics: wired $wired, Wi-Fi $wireless)"
# CI's image (build.sh --test-shell) alone has the test shell and the Wi-Fi check's tools.
ci_only="no CI-only tools"
if ls_root "stat /etc/systemd/system/sentinel-test-shell.service" | grep -q "Type: regular"; then
  for f in /usr/sbin/hostapd /usr/bin/busybox /usr/local/bin/mdns-query; do
    ls_root "stat $f" | grep -q "Type: regular" || fail "CI's image lacks $f"
  done
  ci_only="CI's image: the test shell, hostapd, busybox, mdns-query"
else
  for f in /usr/sbin/hostapd /usr/bin/busybox /usr/local/bin/mdns-query /var/cache/sentinel-ci; do
    ls_root "stat $f" | grep -q "Type:" && fail "$f is CI's only, yet in this image"
  done
fi
ok "Wi-Fi: wpa_supplicant per wlan (udev), DHCP behind the cable (metrics $wired < $wireless), mDNS by resolved; $ci_only"
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
