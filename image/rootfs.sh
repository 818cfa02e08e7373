#!/usr/bin/env bash
# Stage 1 of the SD-card image: a Debian 13 (trixie) arm64 root filesystem for a Raspberry Pi,
# from Debian packages only, as a tar. The kernel and the Wi-Fi firmware come from
# trixie-backports: trixie's own 6.12 has no Raspberry Pi 5 (RP1 south bridge: mainline since
# 6.17), and the backported firmware-brcm80211 carries the Pi boards' Wi-Fi calibration files. Everything here runs arm64 code under qemu-user, which
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

# Debian's kernel (Pi 3, 4, 400, Zero 2 W and 5) and the Pi firmware, systemd with
# networkd/resolved/timesyncd (the Pi has no RTC; TLS needs a clock; resolved answers mDNS for
# sentinel.local and needs libidn2 for it), wpa_supplicant, iw and the Broadcom Wi-Fi firmware
# and regulatory database for the boards' radios, growpart for the data partition, and nothing
# else: the appliance is one static binary.
packages=(
  systemd systemd-sysv udev systemd-timesyncd systemd-resolved libidn2-0
  linux-image-arm64 raspi-firmware initramfs-tools kmod
  wpasupplicant iw firmware-brcm80211 wireless-regdb
  cloud-guest-utils fdisk e2fsprogs ca-certificates
)
# CI only, never installed: the Wi-Fi check's access point (hostapd) and DHCP server (busybox's
# udhcpd), kept as .debs in /var/cache/sentinel-ci. image/build.sh removes them from every image
# and, with --test-shell, unpacks them into the CI image (image/update-check.sh).
ci_debs=(hostapd busybox-static)

# The kernel (linux-*) and the firmware (firmware-*) from trixie-backports, everything else
# from trixie.
setup_hook='mkdir -p "$1/etc/apt/preferences.d"
printf "Package: linux-* firmware-*\nPin: release n=trixie-backports\nPin-Priority: 990\n" > "$1/etc/apt/preferences.d/backports-kernel"'

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
mkdir -p "$1/var/cache/sentinel-ci"
chroot "$1" sh -c "cd /var/cache/sentinel-ci && apt-get download '"${ci_debs[*]}"'"
rm -f "$1/etc/resolv.conf" && ln -s ../run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf"'

# --format=tar: mmdebstrap otherwise guesses the format from OUT's name, and writes a directory
# for a name it does not know (such as build.sh's OUT.tar.partial).
mmdebstrap --arch=arm64 --variant=minbase --mode=root --format=tar --components=main,non-free-firmware \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --setup-hook="$setup_hook" \
  --essential-hook="$essential_hook" \
  --customize-hook="$customize_hook" \
  trixie "$out" \
  "deb $mirror trixie main non-free-firmware" \
  "deb $mirror trixie-updates main non-free-firmware" \
  "deb $mirror trixie-backports main non-free-firmware" \
  "deb $security_mirror trixie-security main non-free-firmware"
