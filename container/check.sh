#!/usr/bin/env bash
# Checks the container image container/build.sh made (issue 29), and fails loudly:
#   1. its config and its one layer, read with skopeo and umoci: user 10001, not root; the
#      entrypoint; the volume; only the webhook port; SIGTERM; a static binary; the index
#      holding amd64 and arm64;
#   2. the amd64 image run as a container: with podman when this machine can run one, else as
#      its entrypoint runs it (the layer unpacked by umoci, the image's env, user and working
#      directory, the binary as PID 1 of its own PID namespace, rooted in the unpacked tree);
#      /health answers, `sentinel health` agrees, webhooks in, stored; stopped with SIGTERM
#      (it must exit 0, well before the kill); started again on the same volume: nothing lost.
#   3. its memory (VmRSS) idle and after 300 webhooks, printed for deploy/k8s's resources.
# The network is loopback only: the listeners are moved to free 127.0.0.1 ports.
#
#   container/check.sh [DIR]   # DIR: container/build.sh's output (default target/container)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
dir="${1:-$target_dir/container}"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
archive="$dir/sentinel-$version-amd64.oci.tar"
index="$dir/sentinel-$version.oci.tar"
uid=10001
secret=ci-container-only

fail() {
  echo "container check FAILED: $*" >&2
  exit 1
}
step() { echo "-- $*"; }
[ -f "$archive" ] || fail "no image at $archive: run container/build.sh first"
for tool in skopeo umoci curl sqlite3 python3 file pgrep; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install skopeo umoci curl sqlite3 file procps)"
done

work=$(mktemp -d)
runner=""
name="sentinel-check-$$"
cleanup() {
  if [ "$runner" = podman ]; then
    podman rm -f "$name" >/dev/null 2>&1 || true
  elif [ -n "${pid:-}" ]; then
    kill -KILL "$(pgrep -P "$pid" | head -1)" "$pid" 2>/dev/null || true
  fi
  # The image this check loaded (podman's storage is buildah's too): nothing left behind.
  loaded=$(podman image inspect --format '{{.Id}}' "localhost/sentinel-check:$$" 2>/dev/null || true)
  [ -z "$loaded" ] || podman rmi -f "$loaded" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# === 1. The config and the layer ===
step "config (skopeo inspect --config)"
skopeo inspect --config "oci-archive:$archive" > "$work/config.json"
python3 - "$work/config.json" "$uid" <<'PY' || fail "the image's config is not what container/build.sh promises"
import json, sys
config = json.load(open(sys.argv[1]))
uid = sys.argv[2]
c = config["config"]
env = dict(item.split("=", 1) for item in c.get("Env", []))
problems = []
def want(what, got, expected):
    if got != expected:
        problems.append(f"{what}: {got!r}, expected {expected!r}")
want("architecture", config.get("architecture"), "amd64")
want("user", c.get("User"), f"{uid}:{uid}")
want("entrypoint", c.get("Entrypoint"), ["/usr/local/bin/sentinel"])
want("cmd", c.get("Cmd"), ["run"])
want("volumes", sorted(c.get("Volumes", {})), ["/var/lib/sentinel"])
want("ports", sorted(c.get("ExposedPorts", {})), ["8000/tcp"])
want("stop signal", c.get("StopSignal"), "SIGTERM")
want("STATE_DIRECTORY", env.get("STATE_DIRECTORY"), "/var/lib/sentinel")
want("LISTEN_ADDR", env.get("LISTEN_ADDR"), "0.0.0.0:8000")
want("ADMIN_LISTEN_ADDR (loopback inside the container)", env.get("ADMIN_LISTEN_ADDR"), "127.0.0.1:8001")
want("layers", len(config["rootfs"]["diff_ids"]), 1)
for line in problems:
    print("  " + line, file=sys.stderr)
print(f"  user {c['User']}, entrypoint {c['Entrypoint']} {c['Cmd']}, volume /var/lib/sentinel, port 8000/tcp, "
      f"env {' '.join(sorted(env))}")
sys.exit(1 if problems else 0)
PY
step "index (skopeo inspect --raw)"
[ -f "$index" ] || fail "no index at $index"
platforms=$(skopeo inspect --raw "oci-archive:$index" | python3 -c \
  'import json,sys; print(" ".join(sorted(m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"])))')
[ "$platforms" = "amd64 arm64" ] || fail "the index holds [$platforms], expected amd64 and arm64"
echo "  linux/amd64 and linux/arm64"

step "layer (umoci unpack)"
mkdir -p "$work/layout"
tar -xf "$archive" -C "$work/layout"
umoci unpack --image "$work/layout:sentinel:$version" "$work/bundle" >/dev/null
rootfs="$work/bundle/rootfs"
unexpected=$(cd "$rootfs" && find . -mindepth 1 \
  ! -path ./usr ! -path ./usr/local ! -path ./usr/local/bin ! -path ./usr/local/bin/sentinel \
  ! -path ./usr/share ! -path './usr/share/zoneinfo*' ! -path ./etc ! -path ./etc/passwd ! -path ./etc/group \
  ! -path ./tmp ! -path ./var ! -path ./var/lib ! -path ./var/lib/sentinel)
[ -z "$unexpected" ] || fail "the layer holds more than it should: $unexpected"
file -b "$rootfs/usr/local/bin/sentinel" | grep -q 'static' || fail "the image's binary is not static"
[ "$(stat -c %u:%g:%a "$rootfs/var/lib/sentinel")" = "$uid:$uid:700" ] \
  || fail "/var/lib/sentinel is $(stat -c %u:%g:%a "$rootfs/var/lib/sentinel"), expected $uid:$uid:700"
[ "$(stat -c %u "$rootfs/usr/local/bin/sentinel")" = 0 ] || fail "the binary should belong to root (not writable by the service)"
[ -f "$rootfs/usr/share/zoneinfo/America/Chicago" ] || fail "no time zones in the image"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["process"]; assert p["user"]["uid"]==int(sys.argv[2]), p["user"]' \
  "$work/bundle/config.json" "$uid" || fail "umoci's runtime config does not run as $uid"
echo "  the binary (static, root's), passwd, group, zoneinfo, /tmp, /var/lib/sentinel ($uid, 0700); nothing else"

# === 2. Run it ===
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
admin=$(free_port)
# The image's env, then this test's: loopback listeners on free ports, a known secret.
mapfile -t image_env < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["config"]["Env"]))' "$work/config.json")
test_env=("LISTEN_ADDR=127.0.0.1:$port" "ADMIN_LISTEN_ADDR=127.0.0.1:$admin" "WEBHOOK_SECRET=$secret" "RUST_LOG=info")

if podman load -q -i "$archive" >"$work/load.log" 2>&1 \
  && podman tag "$(sed -n 's/^Loaded image[^:]*: *//p' "$work/load.log" | tail -1)" "localhost/sentinel-check:$$" 2>>"$work/load.log" \
  && podman run --rm --network host "localhost/sentinel-check:$$" --version >"$work/probe.log" 2>&1; then
  runner=podman
  data="$work/volume"
  mkdir -p "$data" && chown "$uid:$uid" "$data" && chmod 700 "$data"
else
  runner=unpacked
  echo "  podman cannot run a container here ($(tail -1 "$work/probe.log" 2>/dev/null || tail -1 "$work/load.log"));" \
    "running the entrypoint from the unpacked layer instead"
  data="$rootfs/var/lib/sentinel"
  mkdir -p "$rootfs/proc" "$rootfs/sys"
fi
step "runner: $runner"

start() {
  if [ "$runner" = podman ]; then
    local envs=()
    for pair in "${test_env[@]}"; do envs+=(-e "$pair"); done
    podman run -d --name "$name" --network host -v "$data:/var/lib/sentinel" "${envs[@]}" \
      "localhost/sentinel-check:$$" >/dev/null || fail "podman run failed"
    pid=$(podman inspect --format '{{.State.Pid}}' "$name")
  else
    local workdir entrypoint
    workdir=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["WorkingDir"])' "$work/config.json")
    mapfile -t entrypoint < <(python3 -c \
      'import json,sys; c=json.load(open(sys.argv[1]))["config"]; print("\n".join(c["Entrypoint"]+c["Cmd"]))' "$work/config.json")
    # As a runtime does: its own PID namespace (the binary is PID 1), /proc and /sys (netwatch
    # reads the links there), the root, the working directory, the user.
    env -i "${image_env[@]}" "${test_env[@]}" unshare --mount --propagation private /bin/sh -c \
      '/bin/mount --rbind -o ro /sys "$1/sys" && root=$1 && shift && exec /usr/bin/unshare --pid --fork \
         --mount-proc=/proc --root="$root" "$@"' \
      sh "$rootfs" --wd="$workdir" --setgid "$uid" --setuid "$uid" "${entrypoint[@]}" >>"$work/unpacked.log" 2>&1 &
    pid=$!  # unshare, then sh, then the inner unshare (each execs the next): the binary's parent
  fi
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    if [ "$runner" = unpacked ] && ! kill -0 "$pid" 2>/dev/null; then
      logs
      fail "it exited at start"
    fi
    sleep 0.2
  done
  logs
  fail "/health did not answer 200 within 20 s"
}
stops=0
log_text() {
  if [ "$runner" = podman ]; then cat "$work"/podman-*.log 2>/dev/null; podman logs "$name" 2>&1 || true; else cat "$work/unpacked.log"; fi
}
logs() {
  echo "---- the container's log" >&2
  log_text | tail -40 >&2
}
in_container() {
  if [ "$runner" = podman ]; then
    podman exec "$name" "$@"
  else
    env -i "${image_env[@]}" "${test_env[@]}" unshare --root="$rootfs" --setgid "$uid" --setuid "$uid" "$@"
  fi
}
# SIGTERM, as `podman stop` and the kubelet send it; the status it exits with, and how long it took.
stop() {
  local begun code
  begun=$(date +%s%N)
  if [ "$runner" = podman ]; then
    podman stop -t 30 "$name" >/dev/null
    code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
    podman logs "$name" > "$work/podman-$stops.log" 2>&1 || true
    podman rm "$name" >/dev/null
  else
    # To the binary itself, PID 1 of its namespace (unshare, its parent, ignores SIGTERM), as a
    # runtime's kill does: PID 1 gets a signal only if it handles it.
    kill -TERM "$(service_pid)"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$(service_pid)" "$pid" 2>/dev/null || true
      logs
      fail "still running 30 s after SIGTERM (PID 1 ignores a signal it does not handle)"
    fi
    code=0
    wait "$pid" || code=$?
  fi
  pid=""
  stops=$((stops + 1))
  # Its own graceful stop, logged (not a kill): once per stop so far.
  [ "$(log_text | grep -c 'stopping: draining requests')" -ge "$stops" ] \
    || { logs; fail "no 'stopping: draining requests' in the log after SIGTERM"; }
  [ "$code" = 0 ] || { logs; fail "after SIGTERM it exited with $code, not 0 (137 would be the kill after 30 s)"; }
  echo "  stopped by SIGTERM in $(( ($(date +%s%N) - begun) / 1000000 )) ms, exit 0"
}
webhook() {
  curl -sf -X POST "http://127.0.0.1:$port/webhook/ghl/inbound_sms" -H "X-NTPP-Secret: $secret" \
    -H 'Content-Type: application/json' \
    -d "{\"contact_id\":\"$1\",\"full_name\":\"Carl Jones\",\"phone\":\"(214) 555-$(printf %04d "${2:-104}")\",\"message\":{\"type\":\"SMS\",\"body\":\"Pool is green ($1)\"}}"
}
rss() { awk '/^VmRSS/ {rss=$2} /^VmHWM/ {hwm=$2} END {printf "VmRSS %.1f MB (peak %.1f MB)", rss/1024, hwm/1024}' "/proc/$1/status"; }
# The service's own process: podman's PID, or unshare's child.
service_pid() {
  if [ "$runner" = podman ]; then echo "$pid"; else pgrep -P "$pid" | head -1; fi
}

step "start, /health, sentinel health"
start
curl -sf "http://127.0.0.1:$port/health" | python3 -c 'import json,sys; h=json.load(sys.stdin); print("  /health:", h["state"], h.get("degraded_reason", ""))'
health=$(in_container /usr/local/bin/sentinel health) || { logs; fail "sentinel health failed: $health"; }
echo "  sentinel health: $health"
[ "$(awk '/^Uid/ {print $2}' "/proc/$(service_pid)/status")" = "$uid" ] || fail "the service does not run as $uid"
[ "$(awk '/^NSpid/ {print $NF}' "/proc/$(service_pid)/status")" = 1 ] || fail "the service is not PID 1 of its namespace"
echo "  runs as uid $uid, PID 1 of its own PID namespace"
sleep 3
idle=$(rss "$(service_pid)")

step "a webhook in, stored"
answer=$(webhook ci-before) || { logs; fail "the webhook was not acknowledged"; }
echo "  $answer"
echo "$answer" | grep -q '"received":true' || fail "the webhook's answer is not the original's"

step "300 webhooks from 300 phones (the memory under load)"
for n in $(seq 1 300); do webhook "ci-load-$n" "$n" >/dev/null || fail "webhook $n of 300 was not acknowledged"; done
loaded=$(rss "$(service_pid)")

step "SIGTERM"
stop
stored=$(sqlite3 "$data/sentinel.db" "SELECT count(*) FROM raw_events WHERE body LIKE '%ci-before%' OR body LIKE '%ci-load-%'" 2>&1) \
  || fail "reading the volume's database: $stored"
[ "$stored" = 301 ] || fail "the volume's database holds $stored of the 301 acknowledged webhooks"
sqlite3 "$data/sentinel.db" 'PRAGMA integrity_check' | grep -qx ok || fail "the database's integrity check failed"
echo "  the volume's database holds all 301 webhooks; integrity_check ok"
[ "$(stat -c %u "$data/sentinel.db")" = "$uid" ] || fail "the database does not belong to $uid"

step "started again on the same volume"
start
answer=$(webhook ci-after) || { logs; fail "the webhook after the restart was not acknowledged"; }
issues=$(curl -sf -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin/api/issues" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); items=d if isinstance(d,list) else d.get("issues",[]); print(len(items))') \
  || fail "the admin API did not answer"
echo "  $issues issues through the admin API after the restart"
stop
stored=$(sqlite3 "$data/sentinel.db" "SELECT count(*) FROM raw_events WHERE body LIKE '%ci-before%' OR body LIKE '%ci-load-%' OR body LIKE '%ci-after%'")
[ "$stored" = 302 ] || fail "after the restart the database holds $stored of 302 webhooks"
echo "  all 302 webhooks stored across the restart: nothing lost"
if log_text | grep -q 'panicked'; then logs; fail "the log has a panic"; fi

step "memory (for deploy/k8s resources)"
echo "  idle: $idle; after 301 webhooks: $loaded"
echo "container check passed ($runner)"
