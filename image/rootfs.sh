#!/usr/bin/env bash
# Stage 1 of the SD-card image: a Debian bookworm arm64 root filesystem for a Raspberry Pi,
# from Debian packages only, as a tar. Everything here runs arm64 code under qemu-user, which
# is slow (APPLIANCE Addendum A: 41 min when every dpkg trigger rebuilds the initramfs), so
# image/build.sh caches the tar under a key made of this file's contents: change this file and
# the next build makes a new one. The initramfs is built once, at the end, not per trigger.
# The Debian mirror comes from DEBIAN_MIRROR or the build machine's apt sources (mirror.sh);
# it is not part of the key.
#
#   image/rootfs.sh OUT.tar
#
# Needs root (mmdebstrap --mode=root), mmdebstrap, qemu-user-static and binfmt-support.
set -euo pipefail
out="${1:?usage: image/rootfs.sh OUT.tar}"
# shellcheck source-path=SCRIPTDIR source=mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/mirror.sh"
read -r mirror security_mirror < <(debian_mirrors)
echo "   Debian mirror: $mirror (security: $security_mirror)"

# Debian's kernel (Pi 3, 4, 400, Zero 2 W; bookworm has no Pi 5 device tree) and the Pi
# firmware, systemd with networkd/resolved/timesyncd (the Pi has no RTC; TLS needs a clock),
# growpart for the data partition, and nothing else: the appliance is one static binary.
packages=(
  systemd systemd-sysv udev systemd-timesyncd systemd-resolved
  linux-image-arm64 raspi-firmware initramfs-tools kmod
  cloud-guest-utils fdisk e2fsprogs ca-certificates
)

# While packages install, update-initramfs does nothing: every kernel and firmware trigger
# would otherwise rebuild the initramfs under emulation. The real one is restored and run once.
essential_hook='chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.real --add /usr/sbin/update-initramfs
printf "#!/bin/sh\nexit 0\n" > "$1/usr/sbin/update-initramfs"
chmod 0755 "$1/usr/sbin/update-initramfs"'

customize_hook='set -e
rm "$1/usr/sbin/update-initramfs"
chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.real --remove /usr/sbin/update-initramfs
# The root is found by label and mounted read-only from the start (APPLIANCE Addendum B).
sed -i "s|^#\?ROOTPART=.*|ROOTPART=LABEL=root|" "$1/etc/default/raspi-firmware"
echo ro > "$1/etc/default/raspi-extra-cmdline"
chroot "$1" update-initramfs -c -k all
for dir in "$1"/lib/modules/*; do
  chroot "$1" /etc/kernel/postinst.d/z50-raspi-firmware "$(basename "$dir")"
done
chroot "$1" useradd --system --user-group --home-dir /var/lib/sentinel --no-create-home --shell /usr/sbin/nologin sentinel
chroot "$1" systemctl enable systemd-networkd.service systemd-resolved.service
rm -f "$1/etc/resolv.conf" && ln -s ../run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf"'

# --format=tar: mmdebstrap otherwise guesses the format from OUT's name, and writes a directory
# for a name it does not know (such as build.sh's OUT.tar.partial).
mmdebstrap --arch=arm64 --variant=minbase --mode=root --format=tar --components=main,non-free-firmware \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --essential-hook="$essential_hook" \
  --customize-hook="$customize_hook" \
  bookworm "$out" \
  "deb $mirror bookworm main non-free-firmware" \
  "deb $mirror bookworm-updates main non-free-firmware" \
  "deb $security_mirror bookworm-security main non-free-firmware"
