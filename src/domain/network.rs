//! The network in use, judged from what the kernel and the image's Wi-Fi set-up publish
//! (issue 28): pure parsing of `/proc/net/route`, `/proc/net/ipv6_route`, `/proc/net/wireless`
//! and the Wi-Fi status file (`wifi_ssid=`, `wifi_state=`, `wifi_reason=` lines), and the
//! judgement "which interface carries the box, or why none does", in plain words. `netwatch`
//! reads the files and publishes the result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The network as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    /// Whether the box has a way out: an interface that is up and carries a default route.
    pub up: bool,
    /// That interface (`eth0`, `wlan0`, `end0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// `ethernet` or `wifi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its first IPv4 address (else IPv6), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The Wi-Fi network set up on the box, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wifi_ssid: Option<String>,
    /// How joining it goes: `joined`, `joining`, `wrong-password`, `not-found`, `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wifi_state: Option<String>,
    /// The Wi-Fi signal in dBm, while the box uses Wi-Fi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_dbm: Option<i32>,
    /// What is wrong, in plain words: why there is no network, or why the Wi-Fi is not joined
    /// while Ethernet carries the box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl NetworkState {
    /// One line for people: `Wi-Fi "Office" on wlan0 (192.168.1.20), signal -52 dBm (good)`.
    pub fn line(&self) -> String {
        if !self.up {
            return format!("no network: {}", self.problem.as_deref().unwrap_or("no interface has a route out"));
        }
        let interface = self.interface.as_deref().unwrap_or("?");
        let address = self.address.as_deref().map(|address| format!(" ({address})")).unwrap_or_default();
        let mut line = match self.kind.as_deref() {
            Some("wifi") => {
                let ssid = self.wifi_ssid.as_deref().map(|ssid| format!(" \u{201c}{ssid}\u{201d}")).unwrap_or_default();
                let signal = self
                    .signal_dbm
                    .map(|dbm| format!(", signal {dbm} dBm ({})", signal_words(dbm)))
                    .unwrap_or_default();
                format!("Wi-Fi{ssid} on {interface}{address}{signal}")
            }
            _ => format!("Ethernet on {interface}{address}"),
        };
        if let Some(problem) = &self.problem {
            line.push_str(&format!("; {problem}"));
        }
        line
    }
}

/// A signal strength in words, as phones show bars.
pub fn signal_words(dbm: i32) -> &'static str {
    match dbm {
        -60.. => "good",
        -70..=-61 => "fair",
        _ => "weak: move the box or the access point closer",
    }
}

/// One network interface, as `/sys/class/net/<name>` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    /// `up`, `down`, `dormant`, `unknown`, …
    pub operstate: String,
    /// A cable is in, or the radio is associated.
    pub carrier: bool,
    /// It is a Wi-Fi interface.
    pub wireless: bool,
}

/// A default route: its interface and metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The interface.
    pub interface: String,
    /// Lower wins.
    pub metric: u32,
}

/// What the Wi-Fi set-up wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WifiStatus {
    /// The network's name.
    pub ssid: Option<String>,
    /// `joined`, `joining`, `wrong-password`, `not-found`, `off`.
    pub state: Option<String>,
    /// One plain sentence.
    pub reason: Option<String>,
}

/// Everything read, for [`judge`].
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Interfaces by name.
    pub links: BTreeMap<String, Link>,
    /// Default routes, IPv4 first.
    pub routes: Vec<Route>,
    /// Wi-Fi signal level (dBm) by interface.
    pub signal: BTreeMap<String, i32>,
    /// The Wi-Fi set-up's status.
    pub wifi: WifiStatus,
}

/// The default routes of `/proc/net/route`: destination and mask 0, the route up (flag 1).
pub fn default_routes(text: &str) -> Vec<Route> {
    let mut routes: Vec<Route> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [interface, destination, _gateway, flags, _, _, metric, mask, ..] = fields.as_slice() else {
                return None;
            };
            let up = u32::from_str_radix(flags, 16).is_ok_and(|flags| flags & 1 == 1);
            (up && *destination == "00000000" && *mask == "00000000")
                .then(|| Route { interface: interface.to_string(), metric: metric.parse().unwrap_or(u32::MAX) })
        })
        .collect();
    routes.sort_by_key(|route| route.metric);
    routes
}

/// The default routes of `/proc/net/ipv6_route`: `::/0` through a gateway, not `lo`.
pub fn default_routes_v6(text: &str) -> Vec<Route> {
    let mut routes: Vec<Route> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [destination, prefix, _, _, gateway, metric, _, _, _, interface] = fields.as_slice() else {
                return None;
            };
            let zero = |hex: &str| hex.chars().all(|c| c == '0');
            (zero(destination) && *prefix == "00" && !zero(gateway) && *interface != "lo").then(|| Route {
                interface: interface.to_string(),
                metric: u32::from_str_radix(metric, 16).unwrap_or(u32::MAX),
            })
        })
        .collect();
    routes.sort_by_key(|route| route.metric);
    routes
}

/// Signal levels of `/proc/net/wireless`: ` wlan0: 0000   70.  -40.  -256 …`.
pub fn wireless_levels(text: &str) -> BTreeMap<String, i32> {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (interface, rest) = line.split_once(':')?;
            let level = rest.split_whitespace().nth(2)?.trim_end_matches('.');
            let level: f64 = level.parse().ok()?;
            // Old drivers give 0..255 with 256 subtracted for dBm.
            let dbm = if level > 0.0 { level - 256.0 } else { level };
            Some((interface.trim().to_string(), dbm.round() as i32))
        })
        .collect()
}

/// The Wi-Fi set-up's status file: `key=value` lines; unknown keys are ignored.
pub fn wifi_status(text: &str) -> WifiStatus {
    let mut status = WifiStatus::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = Some(value.trim().to_string()).filter(|value| !value.is_empty());
        match key.trim() {
            "wifi_ssid" => status.ssid = value,
            "wifi_state" => status.state = value,
            "wifi_reason" => status.reason = value,
            _ => {}
        }
    }
    status
}

/// The network in use, or why there is none.
pub fn judge(seen: &Seen) -> NetworkState {
    let wifi = &seen.wifi;
    let wifi_set_up = wifi.ssid.is_some() && wifi.state.as_deref() != Some("off");
    // The Wi-Fi's own trouble, in plain words, when it is not joined.
    let wifi_problem = match wifi.state.as_deref() {
        Some("joined") | Some("off") | None => None,
        Some(state) => Some(wifi.reason.clone().unwrap_or_else(|| {
            let ssid = wifi.ssid.as_deref().unwrap_or("?");
            match state {
                "wrong-password" => format!("the Wi-Fi password for \u{201c}{ssid}\u{201d} was refused"),
                "not-found" => format!("the Wi-Fi network \u{201c}{ssid}\u{201d} is not in range"),
                _ => format!("still joining the Wi-Fi network \u{201c}{ssid}\u{201d}"),
            }
        })),
    };
    let usable = seen.routes.iter().find(|route| {
        seen.links.get(&route.interface).is_some_and(|link| matches!(link.operstate.as_str(), "up" | "unknown"))
    });
    let mut state = NetworkState {
        wifi_ssid: wifi.ssid.clone().filter(|_| wifi_set_up),
        wifi_state: wifi.state.clone().filter(|_| wifi_set_up),
        ..NetworkState::default()
    };
    match usable {
        Some(route) => {
            let wireless = seen.links.get(&route.interface).is_some_and(|link| link.wireless);
            state.up = true;
            state.interface = Some(route.interface.clone());
            state.kind = Some(if wireless { "wifi" } else { "ethernet" }.to_string());
            if wireless {
                state.signal_dbm = seen.signal.get(&route.interface).copied();
            }
            // On Ethernet with a Wi-Fi set up that does not join: worth saying, not degraded.
            state.problem = wifi_problem.filter(|_| !wireless);
        }
        None => {
            let mut why = Vec::new();
            if let Some(problem) = wifi_problem {
                why.push(problem);
            }
            let cabled = seen.links.iter().filter(|(name, link)| *name != "lo" && !link.wireless);
            let unplugged = cabled.clone().any(|(_, link)| !link.carrier);
            if cabled.clone().next().is_some() && unplugged && !cabled.clone().any(|(_, link)| link.carrier) {
                why.push("no Ethernet cable is plugged in".to_string());
            } else if cabled.clone().any(|(_, link)| link.carrier) {
                why.push("the Ethernet link is up but got no address or route (is the router's DHCP on?)".to_string());
            }
            if !wifi_set_up && !seen.links.values().any(|link| link.carrier) {
                why.push("no Wi-Fi is set up (WIFI_SSID in sentinel.env on the boot partition)".to_string());
            }
            if why.is_empty() {
                why.push("no interface has a route out".to_string());
            }
            state.problem = Some(why.join("; "));
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
";
    const WIRELESS: &str = "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE
 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22
 wlan0: 0000   54.  -56.  -256        0      0      0      0      0        0
";

    fn link(operstate: &str, carrier: bool, wireless: bool) -> Link {
        Link { operstate: operstate.to_string(), carrier, wireless }
    }

    fn seen(links: &[(&str, Link)], routes: &str, wifi: &str) -> Seen {
        Seen {
            links: links.iter().map(|(name, link)| (name.to_string(), link.clone())).collect(),
            routes: default_routes(routes),
            signal: wireless_levels(WIRELESS),
            wifi: wifi_status(wifi),
        }
    }

    #[test]
    fn the_kernels_tables_are_read() {
        let routes = default_routes(ROUTES);
        assert_eq!(
            routes.iter().map(|r| (r.interface.as_str(), r.metric)).collect::<Vec<_>>(),
            [("eth0", 100), ("wlan0", 600)]
        );
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003  wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo";
        assert_eq!(default_routes_v6(v6), [Route { interface: "wlan0".into(), metric: 1024 }]);
        assert_eq!(wireless_levels(WIRELESS).get("wlan0"), Some(&-56));
        let old = "h\nh\n wlan0: 0000   54.  200.  0  0 0 0 0 0 0\n";
        assert_eq!(wireless_levels(old).get("wlan0"), Some(&-56), "0..255 levels are dBm + 256");
        let status = wifi_status("wifi_ssid=Office\nwifi_state=wrong-password\nnoise\nwifi_reason=\n");
        assert_eq!(
            status,
            WifiStatus { ssid: Some("Office".into()), state: Some("wrong-password".into()), reason: None }
        );
    }

    #[test]
    fn ethernet_wins_when_both_are_up_and_wifi_shows_its_signal_when_alone() {
        let both = seen(
            &[("eth0", link("up", true, false)), ("wlan0", link("up", true, true))],
            ROUTES,
            "wifi_ssid=Office\nwifi_state=joined\n",
        );
        let state = judge(&both);
        assert!(state.up);
        assert_eq!(state.line(), "Ethernet on eth0");
        let wifi_only = seen(
            &[("eth0", link("down", false, false)), ("wlan0", link("up", true, true))],
            ROUTES,
            "wifi_ssid=Office\nwifi_state=joined\n",
        );
        assert_eq!(judge(&wifi_only).line(), "Wi-Fi \u{201c}Office\u{201d} on wlan0, signal -56 dBm (good)");
    }

    #[test]
    fn no_network_says_why_in_plain_words() {
        let wrong = seen(
            &[("eth0", link("down", false, false)), ("wlan0", link("dormant", false, true))],
            "",
            "wifi_ssid=Office\nwifi_state=wrong-password\n",
        );
        let state = judge(&wrong);
        assert!(!state.up);
        assert_eq!(
            state.line(),
            "no network: the Wi-Fi password for \u{201c}Office\u{201d} was refused; no Ethernet cable is plugged in"
        );
        let nothing = seen(&[("eth0", link("down", false, false))], "", "");
        assert_eq!(
            judge(&nothing).line(),
            "no network: no Ethernet cable is plugged in; no Wi-Fi is set up (WIFI_SSID in sentinel.env on the boot \
             partition)"
        );
        let no_dhcp = seen(&[("eth0", link("up", true, false))], "", "");
        assert!(judge(&no_dhcp).line().contains("got no address or route"), "{}", judge(&no_dhcp).line());
        // On Ethernet, a Wi-Fi that does not join is said, and the box is still up.
        let cabled = seen(&[("eth0", link("up", true, false))], ROUTES, "wifi_ssid=Office\nwifi_state=not-found\n");
        let state = judge(&cabled);
        assert!(state.up && state.line().ends_with("the Wi-Fi network \u{201c}Office\u{201d} is not in range"));
    }

    #[test]
    fn signal_in_words() {
        assert_eq!(signal_words(-45), "good");
        assert_eq!(signal_words(-65), "fair");
        assert!(signal_words(-80).starts_with("weak"));
    }
}
