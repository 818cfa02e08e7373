#!/usr/bin/env bash
# Tests image/reflash.sh without booting anything, on copies of an image acting as cards:
#   1. a card with a database, settings and an update slot: after the re-flash its data
#      partition holds the same files, the slot is reset (no slots/current), and the boot and
#      root partitions are the new image's, byte for byte;
#   2. a file that is not a Sentinel card, and a card whose root partition is too small for the
#      new root, are refused with nothing written.
# update-check.sh boots a re-flashed card; this covers what it does not.
#
#   image/reflash-test.sh IMAGE
set -euo pipefail
img="${1:?usage: image/reflash-test.sh IMAGE}"
here=$(dirname "${BASH_SOURCE[0]}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "  ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# part FILE N: start and size (sectors) of partition N.
part() { sfdisk -J "$1" | python3 -c 'import json,sys; p=json.load(sys.stdin)["partitiontable"]["partitions"][int(sys.argv[1])-1]; print(p["start"], p["size"])' "$2"; }
extract() { # FILE N OUT
  local start size
  read -r start size < <(part "$1" "$2")
  dd if="$1" of="$3" bs=4M iflag=skip_bytes,count_bytes skip=$(( start * 512 )) count=$(( size * 512 )) status=none
}
put_back() { # FILE N IN
  local start size
  read -r start size < <(part "$1" "$2")
  dd if="$3" of="$1" bs=4M oflag=seek_bytes seek=$(( start * 512 )) conv=notrunc status=none
}

# 1. A card that has been in use: a database, settings, slot a active.
card=$tmp/card.img
cp --sparse=always "$img" "$card"
extract "$card" 3 "$tmp/data.ext4"
echo "a database" > "$tmp/sentinel.db" && echo "WEBHOOK_SECRET=kept" > "$tmp/sentinel.env"
for command in "write $tmp/sentinel.db sentinel.db" "mkdir etc" "write $tmp/sentinel.env etc/sentinel.env" \
               "mkdir slots" "mkdir slots/a" "symlink slots/current a" "write $tmp/sentinel.env slots/last-update"; do
  debugfs -w -R "$command" "$tmp/data.ext4" >/dev/null 2>&1
done
put_back "$card" 3 "$tmp/data.ext4"
# The card's root is changed, so that the new one is seen to replace it.
extract "$card" 2 "$tmp/root.ext4" && tune2fs -L oldroot "$tmp/root.ext4" >/dev/null && put_back "$card" 2 "$tmp/root.ext4"
bash "$here/reflash.sh" "$img" "$card" >/dev/null
extract "$card" 3 "$tmp/data.ext4"
for file in sentinel.db etc/sentinel.env slots/last-update; do
  debugfs -R "stat /$file" "$tmp/data.ext4" 2>/dev/null | grep -q "Inode:" || fail "/$file is gone from the data partition"
done
debugfs -R "cat /etc/sentinel.env" "$tmp/data.ext4" 2>/dev/null | grep -q kept || fail "the settings changed"
debugfs -R "stat /slots/current" "$tmp/data.ext4" 2>/dev/null | grep -q "Inode:" && fail "slots/current is still there"
e2fsck -fn "$tmp/data.ext4" >/dev/null 2>&1 || fail "the data partition is not clean"
ok "data kept (database, settings, last update), the slot reset to the factory binary"
for n in 1 2; do
  extract "$img" "$n" "$tmp/want" && extract "$card" "$n" "$tmp/got"
  cmp -s "$tmp/want" "$tmp/got" || fail "partition $n is not the new image's"
done
ok "boot and root partitions are the new image's"

# 2. Refusals, with nothing written.
truncate -s 64M "$tmp/blank.img"
bash "$here/reflash.sh" "$img" "$tmp/blank.img" 2>"$tmp/err" && fail "a blank file was taken for a card"
grep -q "not a Sentinel card" "$tmp/err" || fail "unclear refusal: $(cat "$tmp/err")"
cmp -s "$tmp/blank.img" <(head -c 64M /dev/zero) || fail "something was written to the blank file"
ok "refused: $(cat "$tmp/err")"
small=$tmp/small.img
cp --sparse=always "$img" "$small"
sfdisk -d "$small" | python3 -c '
import re, sys
for line in sys.stdin:
    if re.match(r".*2 : start=", line):
        line = re.sub(r"size= *(\d+)", lambda m: "size=%d" % (int(m.group(1)) // 2), line)
    sys.stdout.write(line)' | sfdisk -q "$small" 2>/dev/null
before=$(sha256sum < "$small")
bash "$here/reflash.sh" "$img" "$small" 2>"$tmp/err" && fail "a card with a root too small was written"
grep -q "larger than the card's" "$tmp/err" || fail "unclear refusal: $(cat "$tmp/err")"
[ "$(sha256sum < "$small")" = "$before" ] || fail "the card with a small root was changed"
ok "refused: $(cat "$tmp/err")"
echo "reflash test: ok"
