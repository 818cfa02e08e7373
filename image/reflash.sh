#!/usr/bin/env bash
# Updates the OS on a Sentinel SD card and keeps its data (image/README.md, "Updating the OS"):
# writes a new image's boot partition (p1) and root partition (p2) over the card's, and leaves
# the data partition (p3: the database, the settings in etc/, the update slots) where it is.
# The card's own partition table stays. Then the update slot is reset, so that the new image's
# factory binary runs rather than a binary installed by an earlier `sentinel update` (the slots
# and the last update's record stay; slots/pre-update.db too).
#
#   sudo image/reflash.sh NEW.img CARD      # CARD: /dev/sdX, /dev/mmcblk0, or an image file
#
# It refuses, having written nothing, when CARD is not a Sentinel card (three partitions, p1
# FAT "GHLBOOT"), when one of its partitions is mounted, or when the new image's partitions do
# not fit the card's: p1 must be the same, and the new root no larger than the card's p2 (a
# root is made with a quarter of room to spare, so later images fit until it has grown past
# that; then flash the whole card, after a `sentinel backup`).
set -euo pipefail
new="${1:?usage: image/reflash.sh NEW.img CARD}"
card="${2:?usage: image/reflash.sh NEW.img CARD}"
for tool in sfdisk:fdisk mlabel:mtools debugfs:e2fsprogs; do
  command -v "${tool%%:*}" >/dev/null || { echo "needs ${tool%%:*} (apt-get install ${tool#*:})" >&2; exit 1; }
done
refuse() { echo "image/reflash.sh: $*; nothing was written" >&2; exit 1; }

# start size (512-byte sectors) of each partition, one line each.
table() {
  { sfdisk -J "$1" 2>/dev/null || true; } | python3 -c '
import json, sys
try:
    parts = json.load(sys.stdin)["partitiontable"]["partitions"]
except (ValueError, KeyError):
    parts = []
for p in parts:
    print(p["start"], p["size"])'
}
mapfile -t new_parts < <(table "$new")
mapfile -t card_parts < <(table "$card")
[ "${#new_parts[@]}" -eq 3 ] || refuse "$new is not a Sentinel image (expected 3 partitions)"
[ "${#card_parts[@]}" -eq 3 ] || refuse "$card is not a Sentinel card (expected 3 partitions)"
read -r new1_start new1_size <<<"${new_parts[0]}"
read -r new2_start new2_size <<<"${new_parts[1]}"
read -r card1_start card1_size <<<"${card_parts[0]}"
read -r card2_start card2_size <<<"${card_parts[1]}"
read -r card3_start _ <<<"${card_parts[2]}"
mlabel -s -i "$card@@$(( card1_start * 512 ))" :: 2>/dev/null | grep -q GHLBOOT || refuse "$card's first partition is not GHLBOOT"
[ "$new1_start $new1_size" = "$card1_start $card1_size" ] || refuse "the boot partitions differ in place or size"
[ "$new2_start" = "$card2_start" ] || refuse "the root partitions start at different places"
[ "$new2_size" -le "$card2_size" ] \
  || refuse "the new root ($(( new2_size / 2048 )) MiB) is larger than the card's ($(( card2_size / 2048 )) MiB): flash the whole card after a backup"
if [ -b "$card" ] && lsblk -nro MOUNTPOINT "$card" | grep -q .; then
  refuse "a partition of $card is mounted: unmount it first"
fi

# The data partition is checked first (a card pulled without a shutdown has a journal to
# replay); the slot is reset before the new root goes on, so a cut in between leaves the old OS
# running the factory binary, and a cut later the new OS.
# A card's data partition is its own device (/dev/sdX3); in an image file it is copied out and
# back, since e2fsck cannot replay a journal at an offset into a file.
read -r _ card3_size <<<"${card_parts[2]}"
if [ -b "$card" ]; then
  data=$(lsblk -lnpo NAME,TYPE "$card" | awk '$2 == "part" { print $1 }' | sed -n 3p)
  [ -b "$data" ] || refuse "no third partition device for $card"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  data=$tmp/data.ext4
  dd if="$card" of="$data" bs=4M iflag=skip_bytes,count_bytes skip=$(( card3_start * 512 )) count=$(( card3_size * 512 )) status=none
fi
e2fsck -p "$data" >/dev/null || [ $? -le 1 ] || refuse "the data partition needs repair (e2fsck)"
debugfs -w -R "rm /slots/current" "$data" >/dev/null 2>&1 || true
debugfs -w -R "rm /slots/trial" "$data" >/dev/null 2>&1 || true
debugfs -R "stat /slots/current" "$data" 2>/dev/null | grep -q "Inode:" && refuse "could not reset the update slot"
if [ ! -b "$card" ]; then
  dd if="$data" of="$card" bs=4M oflag=seek_bytes seek=$(( card3_start * 512 )) conv=notrunc,fsync status=none
fi
echo "== data partition kept; the update slot reset to the factory binary"

write() { # START SIZE, in sectors: the same place on NEW and on CARD
  dd if="$new" of="$card" bs=4M iflag=skip_bytes,count_bytes oflag=seek_bytes \
    skip=$(( $1 * 512 )) seek=$(( $1 * 512 )) count=$(( $2 * 512 )) conv=notrunc,fsync status=none
}
write "$new2_start" "$new2_size"
echo "== root partition written ($(( new2_size / 2048 )) MiB of $(( card2_size / 2048 )) MiB)"
write "$new1_start" "$new1_size"
echo "== boot partition written; settings stay on the data partition"
sync
echo "reflash: ok: $(basename "$new") on $card, its data kept"
