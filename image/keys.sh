# shellcheck shell=bash
# The release keys an image trusts (issue 23 part 4): sourced by build.sh and check.sh, not run.
#
#   release_key_raw KEY.pub OUT           # OUT: the key's 32 raw bytes; fails on anything else
#   release_key_id KEY.pub                # prints its id: the first 16 hex digits of its SHA-256
#   release_keys_install DIR [KEY.pub...] # DIR (the image's keys directory) holds exactly these
#   release_keys_check ROOT.ext4 [KEY.pub...]  # the image's keys directory holds exactly these
#
# A public key file is what `sentinel release keygen` writes: the 32 raw bytes of an Ed25519
# key, or the same as 64 hex digits (src/update/keys.rs reads both). The image holds each key
# as raw bytes in /usr/share/sentinel/keys/release-ID.pub, named by the id that `sentinel
# check-config` and a refused update show, so two keys both called release-ed25519.pub (an old
# and a new one, while a key is rotated) never overwrite each other.

release_key_raw() {
  local key=$1 out=$2 text
  [ -f "$key" ] || { echo "release key $key: no such file" >&2; return 1; }
  if [ "$(stat -c %s "$key")" -eq 32 ]; then
    cp "$key" "$out"
  else
    text=$(tr -d ' \t\r\n' <"$key")
    [[ $text =~ ^[0-9a-fA-F]{64}$ ]] || {
      echo "release key $key: not an Ed25519 public key (32 raw bytes or 64 hex digits; sentinel release keygen writes one)" >&2
      return 1
    }
    # shellcheck disable=SC2059 # the format is the key's bytes as \xHH escapes
    printf "$(sed 's/../\\x&/g' <<<"$text")" >"$out"
  fi
  [ "$(stat -c %s "$out")" -eq 32 ] || { echo "release key $key: not 32 bytes" >&2; return 1; }
}

release_key_id() {
  local raw
  raw=$(mktemp)
  release_key_raw "$1" "$raw" || { rm -f "$raw"; return 1; }
  sha256sum "$raw" | cut -c1-16
  rm -f "$raw"
}

# release_keys_install DIR [KEY.pub...]: DIR made afresh (mode 0755), holding each key as
# release-ID.pub (mode 0644, raw bytes); no key, an empty DIR.
release_keys_install() {
  local dir=$1 key id
  shift
  rm -rf "$dir" && install -d -m 0755 "$dir" || return 1
  for key in "$@"; do
    id=$(release_key_id "$key") || return 1
    release_key_raw "$key" "$dir/release-$id.pub" && chmod 0644 "$dir/release-$id.pub" || return 1
  done
}

# release_keys_check ROOT.ext4 [KEY.pub...]: the root filesystem's /usr/share/sentinel/keys
# holds exactly these keys (none when no key is given), each as release-ID.pub, a regular file
# of mode 0644 with its 32 raw bytes, and nothing else. Says what differs on stderr and fails.
release_keys_check() {
  local fs=$1 dir=/usr/share/sentinel/keys work key id found="" expected="" status=0
  shift
  work=$(mktemp -d)
  debugfs -R "stat $dir" "$fs" 2>/dev/null | grep -q "Type: directory" || { echo "no $dir directory" >&2; rm -rf "$work"; return 1; }
  # debugfs ls -p: /INODE/MODE/UID/GID/NAME/SIZE/ per entry.
  found=$(debugfs -R "ls -p $dir" "$fs" 2>/dev/null | awk -F/ 'NF >= 7 && $6 != "." && $6 != ".." { print $6 " " $3 }' | sort)
  for key in "$@"; do
    id=$(release_key_id "$key") || { status=1; continue; }
    expected+="release-$id.pub 100644"$'\n'
    debugfs -R "dump $dir/release-$id.pub $work/$id" "$fs" >/dev/null 2>&1
    release_key_raw "$key" "$work/$id.given" || { status=1; continue; }
    cmp -s "$work/$id" "$work/$id.given" || { echo "$dir/release-$id.pub does not hold $key" >&2; status=1; }
  done
  expected=$(sort -u <<<"${expected%$'\n'}")
  if [ "$found" != "$expected" ]; then
    echo "$dir holds [${found//$'\n'/, }], expected exactly [${expected//$'\n'/, }] (name and mode)" >&2
    status=1
  fi
  rm -rf "$work"
  return "$status"
}
