#!/usr/bin/env bash
# Builds the OCI image of the static sentinel binary (issue 29), from scratch, with Debian's
# buildah: one archive per architecture and one multi-architecture index, and prints their
# sizes. Nothing but the binary, the time zones and two passwd lines is in the image.
#
#   container/build.sh                          # amd64 and arm64, from cross/build.sh's binaries
#   container/build.sh amd64=PATH [arm64=PATH]  # these binaries (static musl) only
#   container/build.sh --out DIR ...            # where the archives go (default target/container)
#
# Output, for version V of Cargo.toml:
#   DIR/sentinel-V-amd64.oci.tar, DIR/sentinel-V-arm64.oci.tar   one image each (oci-archive)
#   DIR/sentinel-V.oci.tar                                       the index of both (oci-archive)
# Load one with `podman load -i DIR/sentinel-V-amd64.oci.tar`, or copy the index to a registry
# with `skopeo copy --all oci-archive:DIR/sentinel-V.oci.tar docker://REGISTRY/sentinel:V`.
#
# The image: user 10001:10001 (never root), the data in the volume /var/lib/sentinel
# (STATE_DIRECTORY, so the database is /var/lib/sentinel/sentinel.db and the original's
# DB_PATH=/data/... is set aside with a warning, as under systemd), the webhook listener on
# 0.0.0.0:8000 (the only port), the admin listener on 127.0.0.1:8001 inside the container
# only, the configuration from the environment (an env file at /etc/sentinel/sentinel.env is
# read only when one is mounted there), stop signal SIGTERM. OCI has no health-check field:
# probe GET /health on port 8000 (deploy/k8s/ does), or give podman
# --health-cmd '["/usr/local/bin/sentinel","health"]'.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target_dir/container"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
uid=10001

declare -A binaries=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    amd64=* | arm64=*) binaries[${1%%=*}]="${1#*=}"; shift ;;
    *) echo "usage: container/build.sh [--out DIR] [amd64=BINARY] [arm64=BINARY]" >&2; exit 2 ;;
  esac
done
if [ "${#binaries[@]}" -eq 0 ]; then
  binaries[amd64]="$target_dir/x86_64-unknown-linux-musl/release/sentinel"
  binaries[arm64]="$target_dir/aarch64-unknown-linux-musl/release/sentinel"
fi

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v skopeo >/dev/null || need+=(skopeo)
[ -f /usr/share/zoneinfo/America/Chicago ] || need+=(tzdata)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "missing packages: ${need[*]} (run as root, or apt-get install them)" >&2; exit 1; }
  { apt-get update -qq || true; } && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# Every binary must be the static one: a from-scratch image has no loader and no libc.
for arch in "${!binaries[@]}"; do
  binary="${binaries[$arch]}"
  [ -f "$binary" ] || { echo "no $arch binary at $binary: build it with cross/build.sh first" >&2; exit 1; }
  description=$(file -b "$binary" 2>/dev/null || true)
  case "$arch:$description" in
    amd64:*x86-64*static* | amd64:*x86-64*static-pie* | arm64:*aarch64*static*) ;;
    *:*) [ -z "$description" ] || { echo "$binary is not a static $arch binary: $description" >&2; exit 1; } ;;
  esac
done

# The tree the one layer holds; arch-independent apart from the binary.
stage=$(mktemp -d)
list="localhost/sentinel:$version"
cleanup() {
  rm -rf "$stage"
  # The archives are the output; buildah's own copies would only pile up.
  buildah manifest rm "$list" >/dev/null 2>&1 || true
  for arch in "${!binaries[@]}"; do buildah rmi "localhost/sentinel:$version-$arch" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
mkdir -p "$stage/root/etc" "$stage/root/usr/share" "$stage/root/usr/local/bin" "$stage/root/tmp" \
  "$stage/root/var/lib/sentinel"
printf 'root:x:0:0:root:/root:/sbin/nologin\nsentinel:x:%s:%s:sentinel:/var/lib/sentinel:/sbin/nologin\n' \
  "$uid" "$uid" > "$stage/root/etc/passwd"
printf 'root:x:0:\nsentinel:x:%s:\n' "$uid" > "$stage/root/etc/group"
# Debian's tzdata without its duplicate right/ and posix/ trees: jiff reads /usr/share/zoneinfo,
# and TIMEZONE must name a zone found there.
cp -a /usr/share/zoneinfo "$stage/root/usr/share/"
rm -rf "$stage/root/usr/share/zoneinfo/right" "$stage/root/usr/share/zoneinfo/posix"
chmod 1777 "$stage/root/tmp"
chown -R 0:0 "$stage/root"
chown "$uid:$uid" "$stage/root/var/lib/sentinel"
chmod 0700 "$stage/root/var/lib/sentinel"

# Built at the last commit's time, so the same commit and binaries give the same digests.
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
mkdir -p "$out"
buildah manifest rm "$list" >/dev/null 2>&1 || true
buildah manifest create "$list" >/dev/null
for arch in $(printf '%s\n' "${!binaries[@]}" | sort); do
  # One tar with the owners and modes set here (buildah copy would make every directory
  # root's 0755), ordered and dated for the same digests each time.
  install -m 0755 -o 0 -g 0 "${binaries[$arch]}" "$stage/root/usr/local/bin/sentinel"
  tar -C "$stage/root" --numeric-owner --sort=name --mtime="@$epoch" -cf "$stage/layer.tar" .
  ctr=$(buildah from --quiet scratch)
  buildah add --quiet "$ctr" "$stage/layer.tar" / >/dev/null
  buildah config \
    --arch "$arch" --os linux \
    --user "$uid:$uid" \
    --workingdir /var/lib/sentinel \
    --env STATE_DIRECTORY=/var/lib/sentinel \
    --env LISTEN_ADDR=0.0.0.0:8000 \
    --env ADMIN_LISTEN_ADDR=127.0.0.1:8001 \
    --volume /var/lib/sentinel \
    --port 8000/tcp \
    --stop-signal SIGTERM \
    --entrypoint '["/usr/local/bin/sentinel"]' \
    --cmd run \
    --label org.opencontainers.image.title=sentinel \
    --label org.opencontainers.image.version="$version" \
    --label org.opencontainers.image.description="missed-contact watchdog for GoHighLevel" \
    "$ctr"
  image="localhost/sentinel:$version-$arch"
  buildah commit --quiet --format oci --timestamp "$epoch" --rm "$ctr" "$image" >/dev/null
  buildah manifest add --arch "$arch" --os linux "$list" "$image" >/dev/null
  archive="$out/sentinel-$version-$arch.oci.tar"
  rm -f "$archive"
  buildah push --quiet "$image" "oci-archive:$archive:sentinel:$version"
  # The pull size is the compressed layer; the disk size is the layer unpacked.
  layers=$(skopeo inspect --raw "oci-archive:$archive" | python3 -c \
    'import json,sys; print(sum(layer["size"] for layer in json.load(sys.stdin)["layers"]))')
  unpacked=$(du -sb "$stage/root" | cut -f1)
  echo "image $arch: $archive: archive $(stat -c %s "$archive") bytes, compressed layer $layers bytes," \
    "unpacked about $unpacked bytes (binary $(stat -c %s "${binaries[$arch]}"))"
done
index="$out/sentinel-$version.oci.tar"
rm -f "$index"
buildah manifest push --quiet --all "$list" "oci-archive:$index:sentinel:$version"
echo "index: $index ($(stat -c %s "$index") bytes): $(skopeo inspect --raw "oci-archive:$index" | python3 -c \
  'import json,sys; print(", ".join(m["platform"]["os"] + "/" + m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"]))')"
