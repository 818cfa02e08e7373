//! A tree of the files the box reads about its network (issue 28): `/sys/class/net`,
//! `/proc/net/route`, `/proc/net/wireless` and the Wi-Fi set-up's status file, under a root the
//! binary is pointed at with `SENTINEL_NET_ROOT`. The harness gives every instance a cabled one.

use std::path::{Path, PathBuf};

/// A tree of the files the box reads about its network.
pub struct Net {
    root: PathBuf,
}

impl Net {
    /// The tree at `root` (made as files are written).
    pub fn at(root: &Path) -> Net {
        Net { root: root.to_path_buf() }
    }

    fn write(&self, path: &str, text: &str) -> anyhow::Result<&Net> {
        let path = self.root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text)?;
        Ok(self)
    }

    /// An interface as `/sys/class/net/NAME` shows it.
    pub fn link(&self, name: &str, operstate: &str, carrier: bool, wireless: bool) -> anyhow::Result<&Net> {
        self.write(&format!("sys/class/net/{name}/operstate"), &format!("{operstate}\n"))?;
        self.write(&format!("sys/class/net/{name}/carrier"), if carrier { "1\n" } else { "0\n" })?;
        if wireless {
            std::fs::create_dir_all(self.root.join(format!("sys/class/net/{name}/wireless")))?;
        }
        Ok(self)
    }

    /// A cabled interface, its cable in or not.
    pub fn ethernet(&self, name: &str, cable: bool) -> anyhow::Result<&Net> {
        self.link(name, if cable { "up" } else { "down" }, cable, false)
    }

    /// A Wi-Fi interface, associated or not.
    pub fn wifi(&self, name: &str, associated: bool) -> anyhow::Result<&Net> {
        self.link(name, if associated { "up" } else { "dormant" }, associated, true)
    }

    /// The IPv4 default routes, as `/proc/net/route` lists them.
    pub fn routes(&self, routes: &[(&str, u32)]) -> anyhow::Result<&Net> {
        let mut text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n".to_string();
        for (name, metric) in routes {
            text.push_str(&format!("{name}\t00000000\t0101A8C0\t0003\t0\t0\t{metric}\t00000000\t0\t0\t0\n"));
            text.push_str(&format!("{name}\t0001A8C0\t00000000\t0001\t0\t0\t{metric}\t00FFFFFF\t0\t0\t0\n"));
        }
        self.write("proc/net/route", &text)
    }

    /// The Wi-Fi signal, as `/proc/net/wireless` gives it.
    pub fn signal(&self, name: &str, dbm: i32) -> anyhow::Result<&Net> {
        self.write(
            "proc/net/wireless",
            &format!(
                "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n \
                 face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n \
                 {name}: 0000   {}.  {dbm}.  -256        0      0      0      0      0        0\n",
                dbm + 110
            ),
        )
    }

    /// What the image's Wi-Fi set-up writes (image/README.md).
    pub fn wifi_status(&self, ssid: &str, state: &str) -> anyhow::Result<&Net> {
        self.write("run/sentinel-net/status", &format!("wifi_ssid={ssid}\nwifi_state={state}\n"))
    }
}
