#!/usr/bin/env bash
# Builds rathole 0.5.0, the self-hosted tunnel the image ships (systemd/rathole-client.*), with
# only the features it needs, and prints its size and build time.
#
#   cross/rathole.sh                        # the Pi's client: aarch64-unknown-linux-musl, static,
#                                           # features client,noise
#   cross/rathole.sh x86_64-unknown-linux-gnu   # this machine's server (image/tunnel-check.sh):
#                                           # features server,noise
#   RATHOLE_FEATURES=client,server,noise cross/rathole.sh [TARGET]   # other features
#
# Output: target/rathole/<target>/rathole
#
# Reproducible and offline once fetched: the source is the rathole-0.5.0.crate cargo already
# holds for the tests' dev-dependency (Cargo.lock pins its checksum), built against
# cross/rathole/Cargo.lock. That lock is rathole's own with only `time` (0.3.29 -> 0.3.44) and its
# two helper crates moved on: 0.3.29 no longer compiles on rustc 1.95 (E0282), which is why
# `cargo install rathole --locked` fails here. The build uses rathole's `minimal` profile
# (opt-level "z", LTO, one codegen unit, panic=abort, stripped) and, for aarch64, the same
# Debian cross gcc as cross/build.sh; rathole compiles no C for the target (git2/libgit2 only
# run in its build script, on the host), so the linker is all it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-aarch64-unknown-linux-musl}"
version=0.5.0

case "$target" in
  aarch64-unknown-linux-musl)
    features="${RATHOLE_FEATURES:-client,noise}"; gnu=aarch64-linux-gnu ;;
  x86_64-unknown-linux-gnu)
    features="${RATHOLE_FEATURES:-server,noise}"; gnu="" ;;
  *)
    echo "unsupported target $target (aarch64-unknown-linux-musl or x86_64-unknown-linux-gnu)" >&2
    exit 2 ;;
esac

if [ -n "$gnu" ]; then
  if ! command -v "$gnu-gcc" >/dev/null; then
    [ "$(id -u)" -eq 0 ] || { echo "missing gcc-$gnu (run as root, or apt-get install it)" >&2; exit 1; }
    { apt-get update -qq || true; } && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "gcc-$gnu"
  fi
  rustup target add "$target" >/dev/null
  upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${upper}_LINKER=$gnu-gcc"
fi

out="target/rathole/$target"
# What this build depends on; the same stamp next to an existing binary means nothing changed.
stamp="$version $features $(sha256sum cross/rathole/Cargo.lock | cut -d' ' -f1) $(sha256sum "$0" | cut -d' ' -f1)"
if [ -x "$out/rathole" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "rathole $version ($features) for $target: $(stat -c %s "$out/rathole") bytes, up to date ($out/rathole)"
  exit 0
fi

cargo_home="${CARGO_HOME:-$HOME/.cargo}"
find_crate() { ls "$cargo_home"/registry/cache/*/"rathole-$version.crate" 2>/dev/null | head -n1; }
crate=$(find_crate)
if [ -z "$crate" ]; then
  cargo fetch --locked >/dev/null
  crate=$(find_crate)
fi
[ -n "$crate" ] || { echo "rathole-$version.crate is not in $cargo_home/registry/cache" >&2; exit 1; }

# Unpacked outside this repository, so rathole's build script (vergen) does not take Sentinel's
# git history for its own version. tar keeps the archive's times: cargo's fingerprints hold, and
# a second run with the same target directory rebuilds nothing.
src="${TMPDIR:-/tmp}/sentinel-rathole-$version-$(id -u)"
rm -rf "$src" && mkdir -p "$src"
tar -xzf "$crate" -C "$src"
cp cross/rathole/Cargo.lock "$src/rathole-$version/Cargo.lock"

start=$(date +%s)
cargo build --manifest-path "$src/rathole-$version/Cargo.toml" --locked --profile minimal \
  --no-default-features --features "$features" --target "$target" --target-dir "$PWD/target/rathole-build"
took=$(( $(date +%s) - start ))
rm -rf "$src"

mkdir -p "$out"
install -m 0755 "target/rathole-build/$target/minimal/rathole" "$out/rathole"
echo "$stamp" > "$out/stamp"
file "$out/rathole" 2>/dev/null || true
echo "rathole $version ($features) for $target: $(stat -c %s "$out/rathole") bytes, built in ${took}s ($out/rathole)"
