#!/usr/bin/env bash
# Builds the Raspberry Pi binaries and packs each into a signed release bundle (issue 16):
# the binary, its version (Cargo.toml's), its schema versions and target, and an Ed25519
# signature over that manifest. `sentinel update BUNDLE` on a box checks all of it.
#
#   cross/release.sh --key PRIVATE.pk8 [--out DIR] [--armv7] [--base-url URL]
#
#   --key       the PKCS#8 private release key (or SENTINEL_RELEASE_KEY). The production key
#               never enters the repository; CI signs with a throwaway key it makes itself
#               (`sentinel release keygen --out DIR`).
#   --out       where the bundles go (default target/release-bundles)
#   --armv7     also the 32-bit armv7-unknown-linux-musleabihf build. cross/build.sh makes it
#               with the nightly toolchain and -Zbuild-std, which CI does not install, so it is
#               not built by default; the aarch64 build is.
#   --base-url  where the bundles will be published: also writes DIR/latest.json, the static
#               manifest UPDATE_URL points at ({"version", "bundles": {arch: URL}})
#
# The packing is done by this machine's own sentinel (target/debug, built from the same
# commit, so it stamps the same schema versions the bundled binary writes).
set -euo pipefail
cd "$(dirname "$0")/.."

key=${SENTINEL_RELEASE_KEY:-}
out=target/release-bundles
base_url=""
targets=(aarch64-unknown-linux-musl)
while [ $# -gt 0 ]; do
  case "$1" in
    --key) key=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --armv7) targets+=(armv7-unknown-linux-musleabihf); shift ;;
    --base-url) base_url=${2%/}; shift 2 ;;
    *) echo "unknown argument $1 (see the top of cross/release.sh)" >&2; exit 2 ;;
  esac
done
[ -n "$key" ] || { echo "no release key: --key PRIVATE.pk8 or SENTINEL_RELEASE_KEY" >&2; exit 2; }
[ -r "$key" ] || { echo "cannot read the release key $key" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cargo build --quiet --bin sentinel
packer=target/debug/sentinel
mkdir -p "$out"
arches=()
for target in "${targets[@]}"; do
  bash cross/build.sh "$target"
  bundle="$out/sentinel-$version-$target.bundle"
  "$packer" release pack --binary "target/$target/release/sentinel" --key "$key" --version "$version" \
    --target "$target" --out "$bundle"
  case $target in aarch64*) arch=aarch64 ;; *) arch=arm ;; esac
  arches+=("$arch=$(basename "$bundle")")
done

if [ -n "$base_url" ]; then
  {
    printf '{\n  "version": "%s",\n  "bundles": {' "$version"
    sep=""
    for entry in "${arches[@]}"; do
      printf '%s\n    "%s": "%s/%s"' "$sep" "${entry%%=*}" "$base_url" "${entry#*=}"
      sep=","
    done
    printf '\n  }\n}\n'
  } > "$out/latest.json"
  echo "manifest for UPDATE_URL: $out/latest.json"
fi
ls -l "$out"
