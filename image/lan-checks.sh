# shellcheck shell=bash
# Checks that update-check.sh runs in its VM before the update: one boot for several checks
# (issue 28 part 5). Sourced, not run; uses update-check.sh's vm_sh, vm_run, wait_for, say and
# fail, and its $tmp, $secret, $admin_port and $http_port (the host's HTTP server, which the
# VM reaches as 10.0.2.2 and fetches files from with busybox wget).
#
#   wifi_env             the boot partition's Wi-Fi and name settings, for vm_env
#   wifi_check           issue 28: the office Wi-Fi, for real, on mac80211_hwsim radios
#   instances_check      issue 29: two locations side by side, sentinel@dallas and @austin

wifi_ssid="Sentinel CI"
wifi_password="the-pool-is-green-42"
wifi_name=sentinel-ci
# As an office writes them in sentinel.env: the name in capitals, the country in lower case.
wifi_env=("WIFI_SSID=$wifi_ssid" "WIFI_PASSWORD=\"$wifi_password\"" WIFI_COUNTRY=us HOSTNAME=Sentinel-CI)

# network_is PYTHON-EXPRESSION: /health's "network", as `n`, makes the expression true.
network_is() {
  python3 -c 'import json,sys; n=json.loads(sys.argv[1]).get("network") or {}; sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$(curl -s -m 5 "http://127.0.0.1:$admin_port/health")" "$1"
}
network_line() {
  python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]).get("network")))' "$(curl -s -m 5 "http://127.0.0.1:$admin_port/health")"
}
# A command run on the access point's side: in its network namespace.
in_ap="nsenter --net=/run/netns/ap"
# fetch NAME: a file of $tmp/www into the VM's /run/ci/NAME.
fetch() { echo "mkdir -p /run/ci && busybox wget -q -O /run/ci/$1 http://10.0.2.2:$http_port/$1"; }

# The access point the Wi-Fi check runs: hostapd, WPA2-PSK, on the second simulated radio, in a
# network namespace of its own ("ap", another machine as far as the box can tell), with a DHCP
# server (busybox udhcpd) handing out 192.168.77.100-150.
ap_files() {
  local conf password
  for conf in hostapd-wrong:not-the-office-password "hostapd:$wifi_password"; do
    password=${conf#*:} conf=${conf%%:*}
    printf 'interface=wlan1\ndriver=nl80211\nssid=%s\nhw_mode=g\nchannel=6\nwpa=2\nwpa_key_mgmt=WPA-PSK\nrsn_pairwise=CCMP\nwpa_passphrase=%s\n' \
      "$wifi_ssid" "$password" > "$tmp/www/$conf.conf"
  done
  printf 'interface wlan1\nstart 192.168.77.100\nend 192.168.77.150\nlease_file /run/ci/udhcpd.leases\noption subnet 255.255.255.0\noption router 192.168.77.1\n' \
    > "$tmp/www/udhcpd.conf"
}

wifi_check() {
  echo "-- Wi-Fi: the settings imported at the first boot"
  # The password left the boot partition and never reached the service's settings; only the
  # key derived from it is kept, in root's own directory; the box took its name.
  vm_run 30 "grep -rlF '$wifi_password' /boot/firmware /var/lib/sentinel/etc /var/lib/sentinel/network" \
    && fail "the Wi-Fi password is still in a file on the box"
  vm_sh 30 "grep -qE '^[[:space:]]*psk=[0-9a-f]{64}\$' /var/lib/sentinel/network/wifi.conf && stat -c '%U %a' /var/lib/sentinel/network /var/lib/sentinel/network/wifi.conf" \
    | tr '\n' ' ' | grep -qx 'root 700 root 600 ' || fail "network/ and wifi.conf are not root's alone"
  vm_sh 30 "grep -c WIFI_ /var/lib/sentinel/etc/sentinel.env || true" | grep -qx 0 || fail "the service's settings hold a WIFI_ line"
  vm_sh 30 "cat /proc/sys/kernel/hostname" | grep -qx "$wifi_name" || fail "the box did not take the name $wifi_name"
  say "the Wi-Fi password left the boot partition; only its key is kept, root's (0600); the box is $wifi_name"

  echo "-- Wi-Fi: two simulated radios (mac80211_hwsim), an access point on one, the box's set-up on the other"
  ap_files
  # wlan1 is the access point's: the box's own set-up (started by udev for every wlan) stays off it.
  # The image has no iproute2: the namespace is util-linux's (unshare, nsenter), kept at
  # /run/netns/ap where iw finds it by name, and busybox configures its address.
  vm_sh 60 "systemctl mask --runtime sentinel-wifi@wlan1.service && modprobe mac80211_hwsim radios=2 \
    && for i in \$(seq 30); do [ -e /sys/class/net/wlan1 ] && break; sleep 1; done \
    && mkdir -p /run/netns && touch /run/netns/ap && unshare --net=/run/netns/ap true \
    && iw phy \$(cat /sys/class/net/wlan1/phy80211/name) set netns name ap \
    && $in_ap busybox ip link set lo up && $in_ap busybox ip addr add 192.168.77.1/24 dev wlan1" >/dev/null
  vm_sh 60 "$(fetch hostapd-wrong.conf) && $(fetch hostapd.conf) && $(fetch udhcpd.conf) && touch /run/ci/udhcpd.leases \
    && systemd-run --unit=ci-ap-wrong $in_ap hostapd /run/ci/hostapd-wrong.conf" >/dev/null
  wait_for "a refused Wi-Fi password reported in plain words" 120 network_is \
    "n.get('wifi_state') == 'wrong-password' and 'password for' in n.get('problem', '')"
  echo "     network: $(network_line)"

  # The access point now takes the office's password: the box joins by itself (it keeps retrying).
  vm_sh 60 "systemctl stop ci-ap-wrong && systemd-run --unit=ci-ap $in_ap hostapd /run/ci/hostapd.conf \
    && systemd-run --unit=ci-dhcp $in_ap busybox udhcpd -f /run/ci/udhcpd.conf" >/dev/null
  wait_for "the Wi-Fi joined" 240 network_is "n.get('wifi_state') == 'joined'"
  wifi_address() { vm_run 10 "busybox ip -4 addr show dev wlan0" | sed -n 's/.* inet \(192\.168\.77\.[0-9]*\)\/.*/\1/p'; }
  has_address() { [ -n "$(wifi_address)" ]; }
  wait_for "an address on the Wi-Fi by DHCP" 90 has_address
  local address
  address=$(wifi_address)
  # Ethernet (QEMU's) carries the box, so the Wi-Fi is joined and not a problem.
  network_is "n.get('up') and n.get('kind') == 'ethernet' and n.get('wifi_ssid') == '$wifi_ssid' and not n.get('problem')" \
    || fail "/health does not show Ethernet carrying with the Wi-Fi joined: $(network_line)"
  echo "     network: $(network_line)"

  # A webhook from the access point's side, through the radio, answered and stored.
  local answer
  if ! answer=$(vm_run 60 "timeout 40 $in_ap busybox wget -q -O - -T 20 --header 'X-NTPP-Secret: $secret' \
    --header 'Content-Type: application/json' \
    --post-data '{\"contact_id\":\"wifi-check\",\"message\":{\"body\":\"Sent over the Wi-Fi\"}}' \
    http://$address:8000/webhook/ghl/inbound_sms"); then
    echo "     no answer over the Wi-Fi: $answer"
    vm_run 60 "$in_ap busybox ip addr; $in_ap busybox ip route; busybox ip addr show dev wlan0; busybox ip route; \
      $in_ap busybox ping -c 3 -W 2 $address; $in_ap busybox netstat -tn; busybox netstat -ltn" | sed 's/^/     /'
    fail "the webhook sent over the Wi-Fi was not answered"
  fi
  echo "     webhook over the Wi-Fi to $address:8000: $answer"
  stored() { curl -s -m 5 -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin_port/api/issues" | grep -q wifi-check; }
  wait_for "the webhook sent over the Wi-Fi stored as an issue" 60 stored

  # Found by name: asked over mDNS from the access point's side (a multicast query to
  # 224.0.0.251:5353), the box answers for sentinel-ci.local with its Wi-Fi address.
  local found
  found=$(vm_sh 30 "$in_ap mdns-query $wifi_name.local 192.168.77.1 2>/dev/null")
  grep -qx "$address" <<<"$found" || fail "$wifi_name.local did not resolve to $address over mDNS: $found"
  say "$wifi_name.local resolves by mDNS to $address, asked from the access point's side"
}

# Two locations on the box, as an agency runs them (issue 29): sentinel@dallas and
# sentinel@austin with their own env files, ports, GHL tokens and locations (GHL is
# ghl-recorder.py on the host), started next to the office's own sentinel.service. Each takes a
# webhook; each keeps only its own, in its own database; each calls GHL with its own token for
# its own location; each logs under its own identifier.
instances_check() {
  echo "-- two locations side by side: sentinel@dallas and sentinel@austin"
  local ghl_port loc port
  ghl_port=$(free_port)
  python3 "$(dirname "${BASH_SOURCE[0]}")/test/ghl-recorder.py" "$ghl_port" "$tmp/ghl.log" &
  ghl_pid=$!
  : > "$tmp/ghl.log"
  for loc in dallas:8100 austin:8200; do
    port=${loc#*:} loc=${loc%:*}
    printf '%s\n' "WEBHOOK_SECRET=$loc-secret" "LISTEN_ADDR=127.0.0.1:$port" "ADMIN_LISTEN_ADDR=127.0.0.1:$(( port + 1 ))" \
      "GHL_TOKEN=token-$loc" "GHL_LOCATION_ID=loc-$loc" "GHL_BASE_URL=http://10.0.2.2:$ghl_port" CLOCK_SYNC=off \
      > "$tmp/www/$loc.env"
    vm_sh 30 "$(fetch "$loc.env") && install -o sentinel -g sentinel -m 0600 /run/ci/$loc.env /etc/sentinel/$loc.env" >/dev/null
  done
  vm_sh 240 "systemctl start sentinel@dallas.service sentinel@austin.service" >/dev/null
  say "both started (Type=notify: READY)"
  vm_sh 60 "sentinel instances" > "$tmp/instances.txt"
  sed 's/^/     /' "$tmp/instances.txt"
  for loc in dallas austin; do
    grep -q "^sentinel@$loc .*loc-$loc" "$tmp/instances.txt" || fail "sentinel instances does not list sentinel@$loc at loc-$loc"
  done
  for loc in dallas:8100 austin:8200; do
    port=${loc#*:} loc=${loc%:*}
    vm_sh 60 "busybox wget -q -O - -T 20 --header 'X-NTPP-Secret: $loc-secret' --header 'Content-Type: application/json' \
      --post-data '{\"contact_id\":\"$loc-customer\",\"message\":{\"body\":\"Pool at the $loc office\"}}' \
      http://127.0.0.1:$port/webhook/ghl/inbound_sms" >/dev/null
  done
  for loc in dallas:8100 austin:8200; do
    port=${loc#*:} loc=${loc%:*}
    local other=dallas
    [ "$loc" = dallas ] && other=austin
    issues=$(vm_sh 30 "busybox wget -q -O - --header 'X-NTPP-Secret: $loc-secret' http://127.0.0.1:$(( port + 1 ))/api/issues")
    grep -q "$loc-customer" <<<"$issues" || fail "sentinel@$loc did not keep its own webhook: $issues"
    grep -q "$other-customer" <<<"$issues" && fail "sentinel@$loc holds $other's webhook: $issues"
    # The wrong location's secret is refused.
    vm_run 30 "busybox wget -q -O - --header 'X-NTPP-Secret: $other-secret' http://127.0.0.1:$(( port + 1 ))/api/issues" >/dev/null \
      && fail "sentinel@$loc took $other's secret"
    vm_sh 90 "timeout 80 sentinel --instance $loc doctor >/dev/null 2>&1 || true" >/dev/null
    vm_sh 30 "test -s /var/lib/sentinel/$loc/sentinel.db && journalctl -b -q -t sentinel-$loc | grep -c . " >/dev/null \
      || fail "sentinel@$loc has no database or no journal lines of its own"
  done
  curl -s -m 5 -H "X-NTPP-Secret: $secret" "http://127.0.0.1:$admin_port/api/issues" | grep -q -- '-customer' \
    && fail "the office's own sentinel.service holds a location's webhook"
  for loc in dallas austin; do
    local other=dallas
    [ "$loc" = dallas ] && other=austin
    grep -q "loc-$loc.* Bearer token-$loc\$" "$tmp/ghl.log" || fail "no GHL call for loc-$loc with its token: $(sort -u "$tmp/ghl.log")"
    grep -q "loc-$loc.* Bearer token-$other\$" "$tmp/ghl.log" && fail "$other's token was sent for loc-$loc"
  done
  echo "     GHL saw: $(sed 's/?.*locationId=\([^& ]*\).* Bearer / \1 /' "$tmp/ghl.log" | sort | uniq -c | tr -s ' \n' ' ')"
  vm_sh 60 "systemctl stop sentinel@dallas.service sentinel@austin.service" >/dev/null
  kill "$ghl_pid" 2>/dev/null || true
  say "two locations side by side: own ports, secrets, databases, journals and GHL tokens; the office's service untouched"
}
