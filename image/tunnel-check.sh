#!/usr/bin/env bash
# Boots an SD-card image under qemu-system-aarch64 and runs a webhook through the self-hosted
# tunnel the image ships, set up as an office would (issue 16):
#   1. a rathole server on this machine (cross/rathole.sh's x86 build, listening on 127.0.0.1
#      only; the VM reaches it as QEMU's gateway, 10.0.2.2), with a fresh Noise key pair;
#   2. a rathole-client.toml put on the boot partition, made from systemd/rathole-client.toml
#      with only the server's address, its public key and the token filled in;
#   3. the first boot imports it, and the baked-in /usr/local/bin/rathole connects through
#      rathole-client.service;
#   4. a webhook sent to the server's public port is acknowledged, and stored (read back on the
#      admin listener), while the admin listener's paths are not reachable through the tunnel.
# It works on a copy; the image is not changed. About 2-3 minutes under software emulation.
#
#   image/tunnel-check.sh target/image/sentinel-<version>-arm64.img
set -euo pipefail
img="${1:?usage: image/tunnel-check.sh IMAGE}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vm_workdir
server_pid=""
stop_all() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  vm_cleanup
}
trap stop_all EXIT
keep_console="$(dirname "$img")/tunnel-check-console.log"

rathole="$repo/target/rathole/x86_64-unknown-linux-gnu/rathole"
[ -x "$rathole" ] || bash "$repo/cross/rathole.sh" x86_64-unknown-linux-gnu
keys=$("$rathole" --genkey)
private=$(sed -n '/^Private Key:/{n;p}' <<<"$keys")
public=$(sed -n '/^Public Key:/{n;p}' <<<"$keys")
[ -n "$private" ] && [ -n "$public" ] || { echo "rathole --genkey printed no key pair: $keys" >&2; exit 1; }
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
control_port=$(free_port) public_port=$(free_port)

vm_disk "$img" +1G
secret=tunnel-check-$(date +%s)
# The VM's clock is the host's and there is no time source here: the operator's CLOCK_SYNC=off.
vm_env "$secret" CLOCK_SYNC=off
# The shipped client configuration, as an office fills it in, on the boot partition.
sed -e "s|^remote_addr = \"REPLACE_ME.example.com:2333\"|remote_addr = \"10.0.2.2:$control_port\"|" \
    -e "s|^remote_public_key = \"REPLACE_ME\"|remote_public_key = \"$public\"|" \
    -e "s|^token = \"REPLACE_ME\"|token = \"$token\"|" \
    "$repo/systemd/rathole-client.toml" > "$tmp/rathole-client.toml"
if grep -v '^#' "$tmp/rathole-client.toml" | grep -q REPLACE_ME; then
  echo "systemd/rathole-client.toml has a REPLACE_ME this check does not fill" >&2; exit 1
fi
mcopy -o -i "$fat" "$tmp/rathole-client.toml" ::rathole-client.toml
cat > "$tmp/server.toml" <<TOML
[server]
bind_addr = "127.0.0.1:$control_port"

[server.transport]
type = "noise"

[server.transport.noise]
local_private_key = "$private"

[server.services.ghl]
token = "$token"
bind_addr = "127.0.0.1:$public_port"
TOML
RUST_LOG=info "$rathole" --server "$tmp/server.toml" > "$tmp/server.log" 2>&1 &
server_pid=$!

webhook_port=$(free_port) admin_port=$(free_port)
started=$(date +%s)
vm_boot

# wait_for (lib.sh) also watches the rathole server, and a timeout shows its log.
wait_also() { kill -0 "$server_pid" 2>/dev/null || fail "the rathole server exited: $(cat "$tmp/server.log")"; }
wait_detail() { echo "; server log: $(tail -20 "$tmp/server.log")"; }
on_server() { grep -q "$1" "$tmp/server.log"; }

echo "== booting $(basename "$img") with a rathole-client.toml on its boot partition"
wait_for "kernel" 120 on_console "Linux version"
wait_for "rathole-client.toml imported" 400 on_console "imported rathole-client.toml from the boot partition"
wait_for "sentinel.service READY" 300 on_console "Started sentinel.service\|Started Sentinel missed-contact watchdog"
wait_for "rathole-client.service started" 120 on_console "Started rathole-client.service\|Started rathole tunnel client"
wait_for "the client's control channel on the host's server" 120 on_server "Control channel established"
wait_for "/health through the tunnel" 60 curl -sf "http://127.0.0.1:$public_port/health"

answer=$(curl -s -w ' %{http_code}' -X POST -H "X-NTPP-Secret: $secret" -H 'Content-Type: application/json' \
  --data '{"type":"InboundMessage","webhookId":"tunnel-check-1","messageId":"tunnel-check-m1","contactId":"tunnel-check","messageType":"SMS","body":"Through the tunnel?"}' \
  "http://127.0.0.1:$public_port/webhook/ghl")
[ "${answer##* }" = 200 ] || fail "the webhook through the tunnel was not acknowledged: $answer"
echo "  ok: webhook through rathole acknowledged: $answer"
issues=$(curl -s -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin_port/api/issues")
grep -q tunnel-check <<<"$issues" || fail "the webhook is not in the appliance's database: $issues"
echo "  ok: it is stored (the admin listener's /api/issues lists its contact)"
for path in /api/issues /api/status /status /console; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$public_port$path")
  [ "$code" = 404 ] || fail "$path answers $code through the tunnel: only the webhook listener may be reachable"
done
echo "  ok: the admin listener's paths answer 404 through the tunnel"
on_console "Failed to start\|FAILED" && fail "a unit failed during boot"
echo "  ok: no unit failed ($(( $(date +%s) - started )) s in all)"
cp "$tmp/console.log" "$keep_console"
echo "tunnel check: ok"
