//! The box: the clock, the disk and the card's wear, the watchdog, the LED, backups and the
//! update key; the off-box bucket and the notification URLs are in `reach`.
//!
//! Every check reads only: the LED's files are tested for write access, not written; the
//! watchdog is asked of systemd; the database is looked at as a file, never opened.

use std::path::Path;

use jiff::{SignedDuration, Timestamp};

use super::{Check, reach};
use crate::config::{ClockSync, Config};
use crate::time::TimeSource;

pub(super) const AREA: &str = "box";

/// A nightly backup older than this many days is a warning; none at all while the database is
/// older than this is a failure.
const BACKUP_DAYS: i64 = 2;
/// The share of `DATA_MAX_MB` above which the disk check warns, in percent.
const BUDGET_WARN_PERCENT: u64 = 80;
/// Free space on the data partition below which SQLite may fail to write: a failure.
const FREE_FAIL: u64 = 16 << 20;
/// Free space below which the disk check warns (and below a tenth of the partition).
const FREE_WARN: u64 = 256 << 20;

/// Every check of the box.
pub fn checks(config: &Config) -> Vec<Check> {
    let time = time_source();
    let mut checks = local(config, &time);
    checks.extend(reach::checks(config, time.now()));
    checks
}

/// The box's checks that ask nothing outside it, on the clock `time`: everything but the
/// off-box bucket and the notification URLs.
pub fn local(config: &Config, time: &TimeSource) -> Vec<Check> {
    vec![
        clock(config.clock_sync, time),
        network(),
        disk(config),
        card_wear(&config.data_dir(), time.monotonic()),
        watchdog(&crate::config::instance::unit(config.instance.as_deref().unwrap_or(crate::config::instance::MAIN))),
        led(&config.led_path),
        backups(config, time.now()),
        update_key(&crate::update::keys::keys_dir()),
    ]
}

/// The clock the service would run on: the manual test clock when `SENTINEL_TEST_NOW` is set
/// (tests only), else the system's.
pub fn time_source() -> TimeSource {
    match std::env::var("SENTINEL_TEST_NOW").ok().and_then(|text| text.parse::<Timestamp>().ok()) {
        Some(at) => TimeSource::manual(at),
        None => TimeSource::System,
    }
}

/// The network in use, as the service sees it (`netwatch`), or why there is none.
fn network() -> Check {
    let Some(seen) = crate::netwatch::read(&crate::netwatch::root()) else {
        return Check::warn(
            AREA,
            "network",
            "not visible here: no /sys/class/net (a container without /sys?)",
            "Nothing to do on the box; in a container, mount /sys read-only to have the network shown.",
        );
    };
    if seen.up {
        match &seen.problem {
            Some(problem) => Check::warn(
                AREA,
                "network",
                seen.line(),
                format!("The box runs on Ethernet; fix the Wi-Fi if it must run without the cable ({problem})."),
            ),
            None => Check::ok(AREA, "network", seen.line()),
        }
    } else {
        Check::fail(
            AREA,
            "network",
            seen.line(),
            "Plug in the Ethernet cable, or set WIFI_SSID and WIFI_PASSWORD in sentinel.env on the boot partition and \
             restart the box.",
        )
    }
}

/// Whether the wall clock is believed, by the rules the service applies (`clockwatch`).
fn clock(policy: ClockSync, time: &TimeSource) -> Check {
    let now = time.now();
    let sync = time.sync_state(policy == ClockSync::Required);
    match crate::clockwatch::judge(policy, sync, now, crate::time::build_floor()) {
        Some(reason) => Check::fail(
            AREA,
            "clock",
            reason,
            "Let the box reach an NTP server (see `timedatectl timesync-status`): until the clock is believed, \
             nothing is judged and nothing is sent.",
        ),
        None => {
            let how = if policy == ClockSync::Off {
                "believed as it reads (CLOCK_SYNC=off)"
            } else if sync.timesyncd_synchronized {
                "believed: synchronized by systemd-timesyncd"
            } else if sync.kernel_synchronized {
                "believed: the kernel says it is synchronized"
            } else {
                "believed: no systemd-timesyncd here, and the clock reads later than this build"
            };
            Check::ok(AREA, "clock", format!("{how}; it reads {}", now.round(jiff::Unit::Second).unwrap_or(now)))
        }
    }
}

/// The room on the data partition and the share of the data budget taken.
fn disk(config: &Config) -> Check {
    let dir = config.data_dir();
    let used = data_used(config);
    let budget = config.data_budget();
    match crate::backup::filesystem_space(&dir) {
        Some((size, free)) => judge_disk(used, budget, free, size),
        None => Check::warn(
            AREA,
            "disk",
            format!("the data directory {} cannot be examined", dir.display()),
            "Create the data directory (the service does at its first start) or fix DB_PATH.",
        ),
    }
}

/// What counts toward `DATA_MAX_MB`, as `/status` counts it, from the files alone: the
/// database with its journal, the nightly backups, the update slots.
fn data_used(config: &Config) -> u64 {
    let dir = config.data_dir();
    let file =
        |suffix: &str| std::fs::metadata(crate::backup::suffixed(&config.db_path, suffix)).map_or(0, |meta| meta.len());
    file("")
        + file("-wal")
        + crate::backup::nightly_bytes(&dir.join("backups"))
        + crate::release::slots::Slots::in_data_dir(&dir).bytes()
}

/// The disk check from its numbers: ✗ when the data fill their budget or the partition is
/// all but full, ⚠ above 80% of the budget or with little room left.
fn judge_disk(used: u64, budget: u64, free: u64, size: u64) -> Check {
    let percent = used.saturating_mul(100) / budget.max(1);
    let detail =
        format!("data {} of the {} budget ({percent}%), {} free on the data partition", mb(used), mb(budget), mb(free));
    if used >= budget || free < FREE_FAIL {
        return Check::fail(
            AREA,
            "disk",
            detail,
            if used >= budget {
                "Raise DATA_MAX_MB, or lower RAW_EVENTS_RETENTION_DAYS so the nightly housekeeping keeps less."
            } else {
                "Free space on the data partition now: SQLite cannot write, and webhooks are refused."
            },
        );
    }
    if percent > BUDGET_WARN_PERCENT || free < FREE_WARN.min(size / 10).max(FREE_FAIL) {
        return Check::warn(
            AREA,
            "disk",
            detail,
            "Raise DATA_MAX_MB or free space on the data partition before the data fill it.",
        );
    }
    Check::ok(AREA, "disk", detail)
}

/// Bytes for people: `812 KB`, `12.3 MB`, `3.4 GB`.
fn mb(bytes: u64) -> String {
    const MB: f64 = (1u64 << 20) as f64;
    let mbs = bytes as f64 / MB;
    if bytes < 1 << 20 {
        format!("{} KB", bytes.div_ceil(1024))
    } else if mbs < 1024.0 {
        format!("{mbs:.1} MB")
    } else {
        format!("{:.1} GB", mbs / 1024.0)
    }
}

/// What the SD card (or eMMC) holding the data has had written since boot, and its own wear
/// estimate where it reports one. Any other disk passes with "not an SD card".
fn card_wear(data_dir: &Path, since_boot: std::time::Duration) -> Check {
    use std::os::unix::fs::MetadataExt as _;
    let Some(disk) = std::fs::metadata(data_dir).ok().and_then(|meta| disk_of(meta.dev())) else {
        return Check::ok(AREA, "card wear", "not an SD card");
    };
    let name = disk.file_name().and_then(|name| name.to_str()).unwrap_or("").to_string();
    if !name.starts_with("mmcblk") {
        return Check::ok(AREA, "card wear", format!("not an SD card ({name})"));
    }
    let written = std::fs::read_to_string(disk.join("stat")).ok().and_then(|stat| sectors_written(&stat));
    let life = std::fs::read_to_string(disk.join("device/life_time")).ok().and_then(|text| life_used(&text));
    judge_wear(&name, written.map(|sectors| sectors * 512), since_boot, life)
}

/// The wear check from its numbers: ⚠ when the card says it has used 80% of its life or more.
fn judge_wear(name: &str, written: Option<u64>, since_boot: std::time::Duration, life: Option<u8>) -> Check {
    let days = since_boot.as_secs() / 86_400;
    let mut detail = match written {
        Some(bytes) => format!("{name}: {} written since boot {days} days ago", mb(bytes)),
        None => format!("{name}: writes since boot not reported"),
    };
    match life {
        Some(step) if step >= 9 => {
            detail.push_str(&format!(", the card reports {}% of its life used", (u32::from(step) * 10).min(100)));
            Check::warn(AREA, "card wear", detail, "Plan a new card: restore the latest backup onto it and swap.")
        }
        Some(step) => {
            detail.push_str(&format!(", the card reports under {}% of its life used", u32::from(step) * 10));
            Check::ok(AREA, "card wear", detail)
        }
        None => Check::ok(AREA, "card wear", detail),
    }
}

/// The whole disk under device number `dev`, as its `/sys/block/NAME` directory: the
/// partition's parent when `dev` is a partition.
fn disk_of(dev: u64) -> Option<std::path::PathBuf> {
    let (major, minor) = dev_numbers(dev);
    let device = std::fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")).ok()?;
    if device.join("partition").exists() { device.parent().map(Path::to_path_buf) } else { Some(device) }
}

/// Linux's major and minor numbers of a device number (glibc's `gnu_dev_major`/`minor`).
fn dev_numbers(dev: u64) -> (u64, u64) {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x00ff);
    (major, minor)
}

/// Sectors written, the seventh field of a block device's `stat`.
fn sectors_written(stat: &str) -> Option<u64> {
    stat.split_whitespace().nth(6)?.parse().ok()
}

/// The larger of an eMMC's two `life_time` estimates (`0x01` is 0–10% used, `0x0b` past its
/// end of life).
fn life_used(text: &str) -> Option<u8> {
    text.split_whitespace().filter_map(|word| u8::from_str_radix(word.trim_start_matches("0x"), 16).ok()).max()
}

/// Whether systemd watches the service: the unit's `WatchdogSec`.
fn watchdog(unit: &str) -> Check {
    if let Some(usec) = std::env::var("WATCHDOG_USEC").ok().and_then(|usec| usec.parse::<u64>().ok()) {
        return Check::ok(
            AREA,
            "watchdog",
            format!("armed: systemd expects a sign of life every {} s", usec / 1_000_000),
        );
    }
    let shown = std::process::Command::new("systemctl")
        .args(["show", unit, "-p", "LoadState", "-p", "WatchdogUSec"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match shown {
        Ok(output) if output.status.success() => judge_watchdog(unit, &String::from_utf8_lossy(&output.stdout)),
        _ => Check::warn(
            AREA,
            "watchdog",
            "not under systemd: nothing restarts the service if it hangs",
            "Run Sentinel under systemd with the shipped unit (systemd/sentinel.service, WatchdogSec=30s).",
        ),
    }
}

/// The shipped file a unit comes from: `sentinel@dallas` is an instance of `sentinel@`.
fn unit_file(unit: &str) -> &str {
    unit.find('@').map_or(unit, |at| &unit[..=at])
}

/// The watchdog check from `systemctl show UNIT -p LoadState -p WatchdogUSec`.
fn judge_watchdog(unit: &str, shown: &str) -> Check {
    let property = |name: &str| {
        shown.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix('=')).map(str::trim).unwrap_or("")
    };
    if property("LoadState") != "loaded" {
        return Check::warn(
            AREA,
            "watchdog",
            format!("systemd knows no {unit} unit: nothing restarts the service if it hangs"),
            format!(
                "Install the shipped unit (systemd/{}.service) and enable it: systemctl enable --now {unit}.",
                unit_file(unit)
            ),
        );
    }
    match property("WatchdogUSec") {
        "" | "0" | "infinity" => Check::warn(
            AREA,
            "watchdog",
            format!("the {unit} unit has no WatchdogSec: a hung service is not restarted"),
            format!("Set WatchdogSec=30s in the {unit} unit, as the shipped systemd/{}.service does.", unit_file(unit)),
        ),
        period => {
            // Older systemd prints microseconds, newer a span such as `30s`.
            let period =
                period.parse::<u64>().map_or_else(|_| period.to_string(), |usec| format!("{}s", usec / 1_000_000));
            Check::ok(AREA, "watchdog", format!("armed: WatchdogSec={period} in the {unit} unit"))
        }
    }
}

/// Whether the status LED's files can be written by the service; no LED passes, as the service
/// treats it.
fn led(dir: &Path) -> Check {
    if !crate::led::Led::new(dir).is_present() {
        return Check::ok(AREA, "LED", format!("no LED at {} (the service drives none)", dir.display()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let denied: Vec<String> = ["trigger", "brightness"]
        .into_iter()
        .filter(|name| !writable(&dir.join(name), root))
        .map(str::to_string)
        .collect();
    if denied.is_empty() {
        Check::ok(AREA, "LED", format!("{} writable", dir.display()))
    } else {
        Check::warn(
            AREA,
            "LED",
            format!("{}: {} not writable by the service", dir.display(), denied.join(" and ")),
            "Install systemd/99-sentinel-led.rules in /etc/udev/rules.d and reboot, so group sentinel may drive the LED.",
        )
    }
}

/// Whether `path` can be written: by this user, or, for root, by the group the udev rule gives
/// it (root may write anything; the service runs as user sentinel).
fn writable(path: &Path, root: bool) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    if root {
        return std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o020 != 0);
    }
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: a valid NUL-terminated path; access only reads it.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

/// The newest nightly backup's age.
fn backups(config: &Config, now: Timestamp) -> Check {
    let zone = config.calendar.zone().clone();
    let today = now.to_zoned(zone).date();
    let newest = crate::backup::newest_nightly(&config.data_dir().join("backups")).map(|(date, _)| date);
    let database_age = std::fs::metadata(&config.db_path).ok().map(|meta| {
        // The file's birth, where the filesystem records it; else its last change, which is
        // never older than its birth (so the age is never overstated).
        meta.created()
            .or_else(|_| meta.modified())
            .ok()
            .and_then(|born| Timestamp::try_from(born).ok())
            .map_or(SignedDuration::ZERO, |born| now.duration_since(born))
    });
    judge_backups(newest.map(|date| (today - date).get_days() as i64), database_age, &config.db_path)
}

/// The backup check from the newest nightly backup's age in days and the database's age
/// (`None`: no database).
fn judge_backups(newest_days: Option<i64>, database_age: Option<SignedDuration>, db_path: &Path) -> Check {
    const NAME: &str = "backups";
    match (newest_days, database_age) {
        (Some(days), _) if days <= BACKUP_DAYS => Check::ok(
            AREA,
            NAME,
            match days {
                ..=0 => "the last nightly backup is from today".to_string(),
                1 => "the last nightly backup is from yesterday".to_string(),
                days => format!("the last nightly backup is {days} days old"),
            },
        ),
        (Some(days), _) => Check::warn(
            AREA,
            NAME,
            format!("the last nightly backup is {days} days old"),
            "Look in the journal for why the nightly backup fails (journalctl -u sentinel | grep -i backup); \
             disk room is the usual reason.",
        ),
        (None, None) => Check::warn(
            AREA,
            NAME,
            format!("no database at {}: the service has not run with this configuration", db_path.display()),
            "Start the service (systemctl start sentinel), or point DB_PATH at the service's database.",
        ),
        (None, Some(age)) if age < SignedDuration::from_hours(24 * BACKUP_DAYS) => {
            Check::ok(AREA, NAME, "no nightly backup yet: the database is new, the first comes at 02:00")
        }
        (None, Some(age)) => Check::fail(
            AREA,
            NAME,
            format!("no nightly backup, and the database is {} days old", age.as_hours() / 24),
            "Look in the journal for why the nightly backup fails (journalctl -u sentinel | grep -i backup), \
             and take one now: sentinel backup FILE.",
        ),
    }
}

/// Whether an update can be installed: a release key trusted.
fn update_key(dir: &Path) -> Check {
    match crate::update::keys::trusted(dir) {
        Ok(keys) if keys.is_empty() => Check::warn(
            AREA,
            "update key",
            format!("no release key trusted (no *.pub in {}): every update is refused", dir.display()),
            format!(
                "Copy the office's release-ed25519.pub into {} (or build the image with --trust-key), \
                 after making it once with sentinel release keygen --out DIR.",
                dir.display()
            ),
        ),
        Ok(keys) => {
            let ids: Vec<&str> = keys.iter().map(|key| key.id.as_str()).collect();
            Check::ok(AREA, "update key", format!("updates signed by {} trusted", ids.join(", ")))
        }
        Err(err) => Check::warn(
            AREA,
            "update key",
            format!("{err:#}"),
            format!("Replace or remove the broken key file in {}: every update is refused until then.", dir.display()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Level;
    use super::*;

    const MB: u64 = 1 << 20;
    const GB: u64 = 1 << 30;

    #[test]
    fn the_disk_fails_when_full_and_warns_when_nearly() {
        assert_eq!(judge_disk(100 * MB, 1000 * MB, 20 * GB, 32 * GB).level, Level::Ok);
        assert_eq!(judge_disk(850 * MB, 1000 * MB, 20 * GB, 32 * GB).level, Level::Warn, "over 80% of the budget");
        assert_eq!(judge_disk(100 * MB, 1000 * MB, 200 * MB, 32 * GB).level, Level::Warn, "little room");
        let full = judge_disk(1000 * MB, 1000 * MB, 20 * GB, 32 * GB);
        assert_eq!(full.level, Level::Fail);
        assert!(full.advice.is_some_and(|advice| advice.contains("DATA_MAX_MB")));
        assert_eq!(judge_disk(10 * MB, 1000 * MB, 4 * MB, 32 * GB).level, Level::Fail, "partition full");
        // A small partition warns at a tenth of its size, not at 256 MB.
        assert_eq!(judge_disk(10 * MB, 100 * MB, 200 * MB, GB).level, Level::Ok);
        let said = judge_disk(100 * MB, 1000 * MB, 20 * GB, 32 * GB).detail;
        assert_eq!(said, "data 100.0 MB of the 1000.0 MB budget (10%), 20.0 GB free on the data partition");
    }

    #[test]
    fn card_wear_is_read_from_sysfs_text() {
        let stat = "  8123  100  300000  5000  4000  900  524288  60000  0  3000  65000  0 0 0 0";
        assert_eq!(sectors_written(stat), Some(524_288));
        assert_eq!(sectors_written("1 2 3"), None);
        assert_eq!(life_used("0x01 0x02\n"), Some(2));
        assert_eq!(life_used(""), None);
        let day = std::time::Duration::from_secs(86_400);
        let ok = judge_wear("mmcblk0", Some(256 * MB), 3 * day, None);
        assert_eq!((ok.level, ok.detail.as_str()), (Level::Ok, "mmcblk0: 256.0 MB written since boot 3 days ago"));
        assert_eq!(judge_wear("mmcblk0", None, day, Some(10)).level, Level::Warn);
        assert_eq!(judge_wear("mmcblk0", None, day, Some(3)).level, Level::Ok);
        // 8:2 (sda2) and 179:2 (mmcblk0p2), as stat reports them on Linux.
        assert_eq!(dev_numbers(0x0802), (8, 2));
        assert_eq!(dev_numbers(0xb302), (179, 2));
        assert_eq!(dev_numbers((259 << 8) | 3), (259, 3));
        assert_eq!(dev_numbers((256 << 12) | (8 << 8) | 44), (8, 300), "a minor past 255");
    }

    #[test]
    fn the_watchdog_is_read_from_systemctl() {
        assert_eq!(judge_watchdog("sentinel", "LoadState=loaded\nWatchdogUSec=30s\n").level, Level::Ok);
        assert!(
            judge_watchdog("sentinel", "LoadState=loaded\nWatchdogUSec=30000000\n").detail.contains("WatchdogSec=30s")
        );
        assert_eq!(judge_watchdog("sentinel", "LoadState=loaded\nWatchdogUSec=0\n").level, Level::Warn);
        assert_eq!(judge_watchdog("sentinel", "LoadState=loaded\nWatchdogUSec=infinity\n").level, Level::Warn);
        let missing = judge_watchdog("sentinel", "LoadState=not-found\nWatchdogUSec=0\n");
        assert!(missing.level == Level::Warn && missing.detail.contains("no sentinel unit"), "{missing:?}");
        // An instance is asked about as the unit systemd runs it as (issue 29).
        assert_eq!(crate::config::instance::unit("dallas"), "sentinel@dallas");
        let armed = judge_watchdog("sentinel@dallas", "LoadState=loaded\nWatchdogUSec=30s\n");
        assert!(armed.detail.contains("in the sentinel@dallas unit"), "{armed:?}");
        let bare = judge_watchdog("sentinel@dallas", "LoadState=loaded\nWatchdogUSec=0\n");
        assert!(bare.advice.as_deref().is_some_and(|advice| advice.contains("systemd/sentinel@.service")), "{bare:?}");
    }

    #[test]
    fn backups_warn_when_old_and_fail_when_missing_on_an_old_database() {
        let db = Path::new("/var/lib/sentinel/sentinel.db");
        let days = |n: i64| Some(SignedDuration::from_hours(24 * n));
        assert_eq!(judge_backups(Some(0), days(30), db).level, Level::Ok);
        assert_eq!(judge_backups(Some(2), days(30), db).level, Level::Ok);
        let old = judge_backups(Some(3), days(30), db);
        assert_eq!((old.level, old.detail.as_str()), (Level::Warn, "the last nightly backup is 3 days old"));
        assert_eq!(judge_backups(None, days(1), db).level, Level::Ok, "a new database has none yet");
        let none = judge_backups(None, days(5), db);
        assert_eq!(
            (none.level, none.detail.as_str()),
            (Level::Fail, "no nightly backup, and the database is 5 days old")
        );
        assert_eq!(judge_backups(None, None, db).level, Level::Warn);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(mb(0), "0 KB");
        assert_eq!(mb(1500), "2 KB");
        assert_eq!(mb(12 * MB + MB / 2), "12.5 MB");
        assert_eq!(mb(3 * GB), "3.0 GB");
    }
}
