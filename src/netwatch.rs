//! The network watcher (issue 28): every [`LOOK_EVERY`] it reads what the kernel publishes
//! (`/proc/net/route`, `/proc/net/ipv6_route`, `/proc/net/wireless`, `/sys/class/net/*`) and
//! the status file the image's Wi-Fi set-up writes (`/run/sentinel-net/status`; see
//! image/README.md), judges it with `domain::network`, and publishes the network in use, or
//! why there is none (writer of `Signals::network`). `/health`, `/status`, `sentinel status`
//! and the console show it; no network makes the appliance degraded (the LED says so), and the
//! network coming back starts a catch-up pass, as the tunnel coming back does (SPEC §12).
//! Tests of the real binary point it at a tree of such files with `SENTINEL_NET_ROOT`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::actors::Ctx;
use crate::domain::network::{
    Link, NetworkState, Seen, default_routes, default_routes_v6, judge, wifi_status, wireless_levels,
};

/// How often the network is looked at.
pub const LOOK_EVERY: Duration = Duration::from_secs(15);

/// Where the image's Wi-Fi set-up writes how joining went, under the root.
const WIFI_STATUS: &str = "run/sentinel-net/status";

/// Looks at the network every [`LOOK_EVERY`] for as long as the service runs; logs each change
/// and starts a catch-up pass when the network comes back.
pub async fn watch(ctx: Ctx) {
    let root = root();
    // Tests look more often than the box does.
    let every = std::env::var("SENTINEL_NET_EVERY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .filter(|_| std::env::var_os("SENTINEL_NET_ROOT").is_some())
        .map_or(LOOK_EVERY, Duration::from_millis);
    loop {
        let read_root = root.clone();
        let seen = match tokio::task::spawn_blocking(move || read(&read_root)).await {
            Ok(Some(seen)) => seen,
            // No /sys/class/net (a container without /sys): the network cannot be seen, so it
            // is not judged; claiming "no network" would only be wrong.
            Ok(None) => {
                tokio::time::sleep(every).await;
                continue;
            }
            Err(err) => {
                tracing::warn!("the network could not be looked at: {err}");
                tokio::time::sleep(every).await;
                continue;
            }
        };
        let before = ctx.signals.set_network(seen.clone());
        let was_up = before.as_ref().is_none_or(|before| before.up);
        if before.as_ref().map(NetworkState::line) != Some(seen.line()) {
            if seen.up {
                tracing::info!("network: {}", seen.line());
            } else {
                tracing::warn!("{}", seen.line());
            }
        }
        if seen.up && !was_up {
            crate::actors::catchup::CatchUpHandle.after_gap("network back");
        }
        tokio::time::sleep(every).await;
    }
}

/// The root the files are read under: `/`, or `SENTINEL_NET_ROOT` (tests).
pub fn root() -> PathBuf {
    std::env::var_os("SENTINEL_NET_ROOT").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// Reads the network under `root` now; `None` when the kernel's view of it is not there (no
/// `/sys/class/net`, as in a container without `/sys`).
pub fn read(root: &Path) -> Option<NetworkState> {
    let text = |path: &str| std::fs::read_to_string(root.join(path)).unwrap_or_default();
    let net = root.join("sys/class/net");
    if !net.is_dir() {
        return None;
    }
    let mut links = BTreeMap::new();
    for entry in std::fs::read_dir(&net).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let dir = entry.path();
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).map(|text| text.trim().to_string()).ok();
        links.insert(
            name,
            Link {
                operstate: read("operstate").unwrap_or_default(),
                carrier: read("carrier").as_deref() == Some("1"),
                wireless: dir.join("wireless").exists() || dir.join("phy80211").exists(),
            },
        );
    }
    let mut routes = default_routes(&text("proc/net/route"));
    routes.extend(default_routes_v6(&text("proc/net/ipv6_route")));
    let seen = Seen {
        links,
        routes,
        signal: wireless_levels(&text("proc/net/wireless")),
        wifi: wifi_status(&text(WIFI_STATUS)),
    };
    let mut state = judge(&seen);
    // Addresses come from the kernel itself, not from files: only for the real root.
    if root == Path::new("/")
        && let Some(interface) = &state.interface
    {
        state.address = address_of(interface);
    }
    Some(state)
}

/// The interface's first IPv4 address, else its first IPv6 one (`getifaddrs`).
fn address_of(interface: &str) -> Option<String> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below with freeifaddrs; each
    // node's name is a NUL-terminated string and its address, when not null, a sockaddr of
    // the family it names, valid until the list is freed.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return None;
        }
        let (mut v4, mut v6) = (None, None);
        let mut node = list;
        while !node.is_null() {
            let entry = &*node;
            node = entry.ifa_next;
            if entry.ifa_addr.is_null() || entry.ifa_name.is_null() {
                continue;
            }
            if std::ffi::CStr::from_ptr(entry.ifa_name).to_string_lossy() != interface {
                continue;
            }
            match i32::from((*entry.ifa_addr).sa_family) {
                libc::AF_INET if v4.is_none() => {
                    let address = &*(entry.ifa_addr as *const libc::sockaddr_in);
                    v4 = Some(std::net::Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr)).to_string());
                }
                libc::AF_INET6 if v6.is_none() => {
                    let address = &*(entry.ifa_addr as *const libc::sockaddr_in6);
                    v6 = Some(std::net::Ipv6Addr::from(address.sin6_addr.s6_addr).to_string());
                }
                _ => {}
            }
        }
        libc::freeifaddrs(list);
        v4.or(v6)
    }
}
