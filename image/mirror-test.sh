#!/usr/bin/env bash
# Tests mirror.sh's choice of Debian mirror against made-up apt sources in a temporary
# directory: DEBIAN_MIRROR first, then one-line and deb822 sources (a disabled entry and other
# vendors' repositories passed over), then the default. Exits 1 on the first wrong answer.
#
#   image/mirror-test.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/mirror.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset DEBIAN_MIRROR DEBIAN_SECURITY_MIRROR

expect() { # what, expected "MAIN SECURITY", then debian_mirrors' arguments
  local what=$1 want=$2 got
  shift 2
  got=$(debian_mirrors "$@")
  [ "$got" = "$want" ] || { echo "FAIL: $what: got '$got', want '$want'" >&2; exit 1; }
  echo "  ok: $what: $got"
}

cat > "$tmp/one-line.list" <<'EOF'
# a comment, and a source package line that is not a mirror for binaries
deb-src http://src.example.test/debian bookworm main
deb https://packages.vendor.test/apt cloud-sdk-bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.lan.test/debian/ bookworm main
deb http://mirror.lan.test/debian-security bookworm-security main
EOF
expect "a one-line sources.list" "http://mirror.lan.test/debian http://mirror.lan.test/debian-security" "$tmp/one-line.list"

cat > "$tmp/debian.sources" <<'EOF'
Types: deb
URIs: http://disabled.test/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src deb
# a proxy's path to the archive
URIs: http://proxy.lan.test:3142/deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://proxy.lan.test:3142/security.debian.org/debian-security
Suites: bookworm-security
Components: main
EOF
cat > "$tmp/vendor.sources" <<'EOF'
Types: deb
URIs: https://deb.vendor.test/node_20.x
Suites: nodistro
Components: main
EOF
expect "deb822 sources (a disabled entry, another vendor)" \
  "http://proxy.lan.test:3142/deb.debian.org/debian http://proxy.lan.test:3142/security.debian.org/debian-security" \
  "$tmp/vendor.sources" "$tmp/debian.sources"

DEBIAN_MIRROR=http://given.test/debian/ expect "DEBIAN_MIRROR over the sources" \
  "http://given.test/debian http://given.test/debian-security" "$tmp/debian.sources"
DEBIAN_MIRROR=http://given.test/debian DEBIAN_SECURITY_MIRROR=http://sec.test/debian-security \
  expect "DEBIAN_MIRROR with DEBIAN_SECURITY_MIRROR" "http://given.test/debian http://sec.test/debian-security"

printf 'Types: deb\nURIs: http://only-main.test/debian\nSuites: bookworm\n' > "$tmp/main-only.sources"
expect "no security entry: the main mirror's -security" \
  "http://only-main.test/debian http://only-main.test/debian-security" "$tmp/main-only.sources"
expect "nothing usable: the default" "http://deb.debian.org/debian http://deb.debian.org/debian-security" \
  "$tmp/vendor.sources" "$tmp/missing.list"
echo "mirror test: ok (this machine: $(debian_mirrors))"
