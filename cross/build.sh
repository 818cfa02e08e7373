#!/usr/bin/env bash
# Builds a stripped, statically linked release binary of sentinel for a Raspberry Pi and
# prints its size. Uses Debian's cross gcc with Debian's musl headers (../shared/BUILD.md §3b),
# so it needs only Debian packages and rustup; it installs what is missing when run as root.
#
#   cross/build.sh                                   # aarch64-unknown-linux-musl (Pi OS 64-bit)
#   cross/build.sh armv7-unknown-linux-musleabihf    # 32-bit Pi OS (nightly + build-std)
#   cross/build.sh x86_64-unknown-linux-musl         # the amd64 container image (container/build.sh)
#
# Output: target/<target>/release/sentinel (under $CARGO_TARGET_DIR when it is set)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
target="${1:-aarch64-unknown-linux-musl}"

need_apt=()
install_apt() {
  [ "${#need_apt[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need_apt[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  # A mirror mid-sync can fail one index; the install below still says if a package is missing.
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
}

case "$target" in
  aarch64-unknown-linux-musl)
    arch=arm64; gnu=aarch64-linux-gnu; musl=aarch64-linux-musl; toolchain=stable; build_std=() ;;
  x86_64-unknown-linux-musl)
    arch=amd64; gnu=x86_64-linux-gnu; musl=x86_64-linux-musl; toolchain=stable; build_std=() ;;
  armv7-unknown-linux-musleabihf)
    arch=armhf; gnu=arm-linux-gnueabihf; musl=arm-linux-musleabihf; toolchain=nightly
    # rustup serves no prebuilt std for this target here: rebuild it from source.
    build_std=(-Zbuild-std=std,panic_unwind) ;;
  *)
    echo "unsupported target $target (aarch64-unknown-linux-musl, armv7-unknown-linux-musleabihf or x86_64-unknown-linux-musl)" >&2
    exit 2 ;;
esac

# The machine's own architecture (amd64 here) needs no foreign-architecture entry.
if [ "$arch" != "$(dpkg --print-architecture)" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  [ "$(id -u)" -eq 0 ] || { echo "dpkg --add-architecture $arch needs root" >&2; exit 1; }
  dpkg --add-architecture "$arch"
fi
command -v "$gnu-gcc" >/dev/null || need_apt+=("gcc-$gnu")
[ -f "/usr/lib/$musl/musl-gcc.specs" ] || need_apt+=("musl-dev:$arch")
install_apt

# SQLite must compile against musl's headers, not glibc's (BUILD.md §3b: LFS64 symbols).
wrapper_dir="$target_dir/cross-bin"
mkdir -p "$wrapper_dir"
cat > "$wrapper_dir/$musl-gcc" <<WRAP
#!/bin/sh
exec $gnu-gcc "\$@" -specs /usr/lib/$musl/musl-gcc.specs
WRAP
chmod +x "$wrapper_dir/$musl-gcc"

upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
lower=$(echo "$target" | tr '-' '_')
export "CC_$lower=$wrapper_dir/$musl-gcc" "AR_$lower=$gnu-ar"
if [ "$toolchain" = nightly ]; then
  rustup component add rust-src --toolchain nightly >/dev/null
  # std comes from source, so the link uses Debian's musl objects and libgcc_eh as the unwinder.
  unwind_dir="$target_dir/cross-unwind-$arch"
  mkdir -p "$unwind_dir"
  ln -sf "$(ls /usr/lib/gcc-cross/$gnu/*/libgcc_eh.a | head -n1)" "$unwind_dir/libunwind.a"
  export "CARGO_TARGET_${upper}_LINKER=$wrapper_dir/$musl-gcc"
  export "CARGO_TARGET_${upper}_RUSTFLAGS=-C link-self-contained=no -L native=$unwind_dir"
else
  rustup target add "$target" >/dev/null
  export "CARGO_TARGET_${upper}_LINKER=$gnu-gcc"
fi

cargo "+$toolchain" build --release --locked --target "$target" "${build_std[@]}"
binary="$target_dir/$target/release/sentinel"
"$gnu-strip" "$binary" 2>/dev/null || true
file "$binary" 2>/dev/null || true
echo "size: $(stat -c %s "$binary") bytes ($binary)"
