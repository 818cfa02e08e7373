#!/usr/bin/env bash
# Builds the flashable Raspberry Pi SD-card image (Pi 3, 4, 400, 5, Zero 2 W; 64-bit) from Debian
# packages only: no Docker, no loop devices, no mounts.
#
#   image/build.sh --trust-key KEY.pub [--trust-key KEY.pub ...] | --no-trust-key
#                  [--binary PATH] [--cloudflared PATH] [--rathole PATH] [--out DIR] [--xz]
#
#   --trust-key    a release public key the box trusts updates from (`sentinel release keygen
#                  --out DIR` makes the office's pair once: give DIR/release-ed25519.pub here and
#                  keep the .pk8 off the box). Repeat it to trust several, as while a key is
#                  rotated (README "Release keys"). No key is built into the binary.
#   --no-trust-key an image that trusts no key, so it refuses every update (CI's first image);
#                  one of the two is required
#   --binary       the static aarch64 sentinel (default: cross/build.sh's output, built if missing)
#   --cloudflared  an arm64 cloudflared binary to bake in (Cloudflare publishes them); without it
#                  the image has the unit but no tunnel binary
#   --rathole      the arm64 rathole binary baked in for the self-hosted tunnel instead
#                  (default: cross/rathole.sh's output, built if missing)
#   --out          where the image goes (default: target/image)
#   --xz           also write a compressed copy for downloading and flashing
#   --test-shell   CI only: a root shell on the VM's virtio port "sentinel.test-shell"
#                  (image/test/sentinel-test-shell.service), for image/update-check.sh
#
# Stage 1, the Debian root filesystem, is image/rootfs.sh under qemu-user: about 15-40 minutes,
# so its tar is cached in $SENTINEL_IMAGE_CACHE (default /var/cache/sentinel-image) under a key
# made of rootfs.sh's contents. Stage 2, here, adds Sentinel and assembles the partitions in
# about a minute, then image/check.sh checks the result.
#
# Layout (APPLIANCE §3.3): MBR; p1 FAT32 "GHLBOOT" 256 MiB at 4 MiB (firmware, kernel,
# sentinel.env); p2 ext4 "root", read-only in use; p3 ext4 "data" for /var/lib/sentinel, 64 MiB,
# grown to fill the card at first boot.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

binary=target/aarch64-unknown-linux-musl/release/sentinel
cloudflared=""
rathole=target/rathole/aarch64-unknown-linux-musl/rathole
out=target/image
compress=0
trust_keys=()
no_trust_key=0
test_shell=0
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --cloudflared) cloudflared=$2; shift 2 ;;
    --rathole) rathole=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --xz) compress=1; shift ;;
    --trust-key) trust_keys+=("${2:?--trust-key needs a KEY.pub}"); shift 2 ;;
    --no-trust-key) no_trust_key=1; shift ;;
    --test-shell) test_shell=1; shift ;;
    *) echo "unknown argument $1 (see the top of image/build.sh)" >&2; exit 2 ;;
  esac
done
# Which release keys the box trusts is the builder's decision, made out loud: no key is built
# into the binary, so an image with none refuses every update (issue 23 part 4).
source image/keys.sh
if [ "${#trust_keys[@]}" -eq 0 ] && [ "$no_trust_key" -eq 0 ]; then
  echo "image/build.sh needs --trust-key KEY.pub (the release key the box will trust updates from; make one with" \
       "\`sentinel release keygen --out DIR\` and give DIR/release-ed25519.pub), or --no-trust-key for an image" \
       "that refuses every update" >&2
  exit 2
fi
if [ "${#trust_keys[@]}" -gt 0 ] && [ "$no_trust_key" -eq 1 ]; then
  echo "image/build.sh: --trust-key and --no-trust-key contradict each other; give one" >&2
  exit 2
fi
for trust_key in "${trust_keys[@]}"; do
  release_key_id "$trust_key" >/dev/null || exit 2
done
[ "$(id -u)" -eq 0 ] || { echo "image/build.sh needs root (mmdebstrap, file ownership in the image)" >&2; exit 1; }

need=()
# arch-test is only a recommend of mmdebstrap, but mmdebstrap refuses a foreign architecture
# without it ("install arch-test for foreign architecture support").
for tool in mmdebstrap:mmdebstrap arch-test:arch-test mkfs.vfat:dosfstools mcopy:mtools sfdisk:fdisk \
            mke2fs:e2fsprogs dtc:device-tree-compiler fdtoverlay:device-tree-compiler qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support file:file; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# The chroot runs arm64 programs through binfmt_misc (BUILD.md §7).
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
fi

[ -x "$binary" ] || bash cross/build.sh aarch64-unknown-linux-musl
file -L "$binary" | grep -q "ARM aarch64.*statically linked" || { echo "$binary is not a static aarch64 binary" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

# Stage 1: the cached root filesystem. The key covers everything that shapes the tar: the script
# that builds it and the version of the tool that writes it. A cache entry that is not a tar
# (an interrupted or older build) is thrown away and built again.
cache=${SENTINEL_IMAGE_CACHE:-/var/cache/sentinel-image}
key=$( { cat image/rootfs.sh; mmdebstrap --version; dpkg-query -W -f='${Version}\n' qemu-user-static; } \
       | sha256sum | cut -c1-16)
rootfs_tar=$cache/rootfs-$key.tar
mkdir -p "$cache"
# (grep -c reads the whole listing: grep -q would end tar with SIGPIPE, a failure under pipefail.)
is_tar() { [ -f "$1" ] && [ "$(tar -tf "$1" 2>/dev/null | grep -c '^\(\./\)\?etc/os-release$')" -gt 0 ]; }
if is_tar "$rootfs_tar"; then
  echo "== root filesystem: cached $rootfs_tar"
else
  rm -rf "$rootfs_tar" "$rootfs_tar.partial"
  echo "== root filesystem: building $rootfs_tar (slow: arm64 under emulation)"
  started=$(date +%s)
  bash image/rootfs.sh "$rootfs_tar.partial"
  is_tar "$rootfs_tar.partial" || { echo "image/rootfs.sh did not write a root filesystem tar" >&2; exit 1; }
  mv "$rootfs_tar.partial" "$rootfs_tar"
  echo "   built in $(( $(date +%s) - started )) s"
fi

# Stage 2: Sentinel on top.
work=$out/work
rm -rf "$work" && mkdir -p "$work/root" "$work/boot" "$work/data"
root=$work/root
tar -C "$root" --numeric-owner -xpf "$rootfs_tar"

# The factory binary, and the launcher that runs the active update slot's binary or, without
# one, the factory binary (issue 16); the release keys updates are checked against, exactly
# those given (image/keys.sh names each by its id).
install -D -m 0755 "$binary" "$root/usr/lib/sentinel/sentinel"
install -m 0755 systemd/sentinel-launcher "$root/usr/local/bin/sentinel"
release_keys_install "$root/usr/share/sentinel/keys" "${trust_keys[@]}"
# CI only: a root shell on a virtio port that only QEMU has, for the update check, and the Wi-Fi
# check's access point and DHCP server (hostapd, busybox's udhcpd) unpacked from the .debs the
# root filesystem keeps for it. No other image has them.
if [ "$test_shell" -eq 1 ]; then
  install -m 0644 image/test/sentinel-test-shell.service "$root/etc/systemd/system/"
  ln -sf /etc/systemd/system/sentinel-test-shell.service "$root/etc/systemd/system/multi-user.target.wants/"
  for deb in "$root"/var/cache/sentinel-ci/*.deb; do dpkg-deb -x "$deb" "$root"; done
  install -m 0755 image/test/mdns-query "$root/usr/local/bin/mdns-query"
fi
rm -rf "$root/var/cache/sentinel-ci"
if [ -n "$cloudflared" ]; then
  file -L "$cloudflared" | grep -q "ARM aarch64" || { echo "$cloudflared is not an arm64 binary" >&2; exit 1; }
  install -m 0755 "$cloudflared" "$root/usr/local/bin/cloudflared"
fi
# rathole is always baked in, so an office can pick the self-hosted tunnel without fetching a
# binary; its unit runs only once a rathole-client.toml was imported.
[ -x "$rathole" ] || bash cross/rathole.sh aarch64-unknown-linux-musl
file -L "$rathole" | grep -q "ARM aarch64.*statically linked" || { echo "$rathole is not a static arm64 binary" >&2; exit 1; }
install -m 0755 "$rathole" "$root/usr/local/bin/rathole"
install -m 0644 systemd/sentinel.service systemd/sentinel-rollback.service systemd/cloudflared.service systemd/rathole-client.service "$root/etc/systemd/system/"
# Several locations on one box (issue 29): the templates, enabled by hand per location
# (`systemctl enable --now sentinel@dallas` once /etc/sentinel/dallas.env is there). The image's
# data.conf drop-in is sentinel.service's only: an instance's StateDirectory=sentinel/%i is a
# directory of its own inside the data partition, which systemd may hand to the service user.
install -m 0644 systemd/sentinel@.service systemd/sentinel-rollback@.service "$root/etc/systemd/system/"
# The tunnel's ingress rules (no secret): copied to /etc/sentinel at boot when missing there.
install -D -m 0644 systemd/cloudflared.yml "$root/usr/share/sentinel/cloudflared.yml"
install -D -m 0644 systemd/journald-sentinel.conf "$root/etc/systemd/journald.conf.d/10-sentinel.conf"
install -D -m 0644 systemd/hw-watchdog.conf "$root/etc/systemd/system.conf.d/10-hw-watchdog.conf"
install -D -m 0644 systemd/99-sentinel-led.rules "$root/etc/udev/rules.d/99-sentinel-led.rules"
install -D -m 0644 README.md "$root/usr/share/doc/sentinel/README.md"
cp -a image/overlay/. "$root/"
chown -R 0:0 "$root/etc/systemd/system" "$root/usr/local"

# Enabled as `systemctl enable` would, without running anything.
wants=$root/etc/systemd/system/multi-user.target.wants
for unit in sentinel.service sentinel-import.service cloudflared.service rathole-client.service; do
  ln -sf "/etc/systemd/system/$unit" "$wants/$unit"
done
# Timers that would write to the read-only root (apt, dpkg's database backup) stay off.
rm -f "$root"/etc/systemd/system/timers.target.wants/{apt-daily.timer,apt-daily-upgrade.timer,dpkg-db-backup.timer}

# Settings live on the data partition; /etc/sentinel points there.
rm -rf "$root/etc/sentinel" && ln -s /var/lib/sentinel/etc "$root/etc/sentinel"
# The tunnel's rules and secrets too, in root's own directory there (image/README.md, issue 23).
rm -rf "$root/etc/sentinel-tunnel" && ln -s /var/lib/sentinel/tunnel "$root/etc/sentinel-tunnel"
mkdir -p "$root/var/lib/sentinel" && chmod 0700 "$root/var/lib/sentinel"
# An empty machine-id: systemd makes a fresh one per boot in /run (the journal is in RAM anyway).
: > "$root/etc/machine-id"
printf 'sentinel %s image, built %s from %s\n' "$version" "$(date -u +%Y-%m-%d)" "$(basename "$rootfs_tar")" \
  > "$root/etc/sentinel-release"

# The boot partition: what the firmware and Debian's hooks put in /boot/firmware, plus ours.
cp -a "$root/boot/firmware/." "$work/boot/"
rm -rf "$root/boot/firmware" && mkdir "$root/boot/firmware"
install -m 0644 image/boot/sentinel.env image/boot/README.txt "$work/boot/"
# The Pi 5's ACT LED, which mainline's device tree lacks (image/boot/overlays/*.dts), loaded by
# its firmware from a [pi5] section; the other boards' sections stay as raspi-firmware wrote them.
mkdir -p "$work/boot/overlays"
dtc -q -@ -I dts -O dtb -o "$work/boot/overlays/sentinel-pi5-act-led.dtbo" image/boot/overlays/sentinel-pi5-act-led.dts
printf '\n# Sentinel (image/build.sh): the Raspberry Pi 5 status LED.\n[pi5]\ndtoverlay=sentinel-pi5-act-led\n[all]\n' \
  >> "$work/boot/config.txt"
cmdline=$(cat "$work/boot/cmdline.txt")
case " $cmdline " in *" root=LABEL=root "*" ro "*) ;; *) echo "unexpected cmdline.txt: $cmdline" >&2; exit 1 ;; esac

# Partitions as files, then the disk.
mib() { echo $(( ($1 + 1048575) / 1048576 )); }
boot_mib=256
root_used=$(du -sb "$root" | cut -f1)
root_mib=$(( ( $(mib "$root_used") * 5 / 4 + 128 + 3 ) / 4 * 4 ))
data_mib=64
rm -f "$work/boot.vfat"
mkfs.vfat -F 32 -n GHLBOOT -C "$work/boot.vfat" $(( boot_mib * 1024 )) >/dev/null
mcopy -s -p -m -i "$work/boot.vfat" "$work/boot/"* ::/
mke2fs -q -F -t ext4 -L root -d "$root" "$work/root.ext4" "${root_mib}M"
# The data partition starts with the directory timesyncd's clock file is bind-mounted from, and
# root's tunnel directory; its top is root:sentinel, mode 1770 with the sticky bit, as
# sentinel-import keeps it at every boot (the service user writes only its own entries there).
mkdir -p "$work/data/timesync"
install -d -m 0700 "$work/data/tunnel"
sentinel_gid=$(awk -F: '$1 == "sentinel" { print $3 }' "$root/etc/group")
[ -n "$sentinel_gid" ] || { echo "the root filesystem has no sentinel group" >&2; exit 1; }
mke2fs -q -F -t ext4 -L data -E root_owner=0:"$sentinel_gid" -d "$work/data" "$work/data.ext4" "${data_mib}M"
debugfs -w -R "sif / mode 041770" "$work/data.ext4" >/dev/null 2>&1

mkdir -p "$out"
img=$out/sentinel-$version-arm64.img
rm -f "$img"
start_boot=4 start_root=$(( 4 + boot_mib )) start_data=$(( 4 + boot_mib + root_mib ))
truncate -s $(( (start_data + data_mib) ))M "$img"
sfdisk -q "$img" <<EOF
label: dos
start=${start_boot}MiB, size=${boot_mib}MiB, type=c, bootable
start=${start_root}MiB, size=${root_mib}MiB, type=83
start=${start_data}MiB, size=${data_mib}MiB, type=83
EOF
dd if="$work/boot.vfat" of="$img" bs=1M seek=$start_boot conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$img" bs=1M seek=$start_root conv=notrunc,sparse status=none
dd if="$work/data.ext4" of="$img" bs=1M seek=$start_data conv=notrunc,sparse status=none
rm -rf "$work"

echo "== image: $img ($(du -h --apparent-size "$img" | cut -f1), root ${root_mib} MiB)"
check_keys=(--no-trust-key)
[ "${#trust_keys[@]}" -eq 0 ] || check_keys=()
for trust_key in "${trust_keys[@]}"; do check_keys+=(--trust-key "$trust_key"); done
bash image/check.sh "$img" "${check_keys[@]}"
if [ "$compress" -eq 1 ]; then
  xz -T0 -6 -k -f "$img" && echo "== compressed: $img.xz ($(du -h "$img.xz" | cut -f1))"
fi
