//! What the box reaches besides GHL: the off-box bucket (a small object written and deleted)
//! and each notification URL (a signed ping, as real deliveries are signed).

use jiff::Timestamp;

use super::Check;

/// The checks here are of the box's reach outside, under the box's area.
const AREA: &str = "box";
use crate::config::Config;
use crate::domain::notify;

/// The bucket's check when `OFFBOX_URL` is set, then one per notification URL.
pub fn checks(config: &Config, now: Timestamp) -> Vec<Check> {
    let mut checks = Vec::new();
    if config.offbox.bucket.is_some() {
        checks.push(bucket(config, now));
    }
    let notifier = crate::clients::notify::Notifier::new(config.notify.key());
    for target in &config.notify.targets {
        checks.push(ping(&notifier, target, now));
    }
    checks
}

/// The probe's key under the bucket's prefix: not a copy's name, so neither `offbox list` nor
/// the copies' retention ever takes it for one.
pub fn probe_key(prefix: &str, now: Timestamp) -> String {
    format!("{prefix}sentinel-doctor-{}.probe", now.as_millisecond())
}

/// Writes a small object to the off-box bucket and deletes it.
fn bucket(config: &Config, now: Timestamp) -> Check {
    const NAME: &str = "off-box bucket";
    let Some(url) = &config.offbox.bucket else {
        return Check::ok(AREA, NAME, "OFFBOX_URL is unset");
    };
    let bucket = match crate::offbox::bucket::Bucket::new(url, &config.offbox) {
        Ok(bucket) => bucket,
        Err(err) => {
            return Check::fail(
                AREA,
                NAME,
                format!("{err:#}"),
                "Fix OFFBOX_URL and the OFFBOX_* credentials in the env file.",
            );
        }
    };
    let key = probe_key(&url.prefix, now);
    if let Err(err) = bucket.put_bytes(&key, b"sentinel doctor: this object is deleted at once\n") {
        return Check::fail(
            AREA,
            NAME,
            format!("{err:#}"),
            "Check OFFBOX_URL's bucket exists and that OFFBOX_ACCESS_KEY_ID may write to it: the nightly copy \
             cannot be sent until then.",
        );
    }
    match bucket.delete(&key) {
        Ok(()) => Check::ok(AREA, NAME, format!("{}: a test object written and deleted", bucket.label())),
        Err(err) => Check::warn(
            AREA,
            NAME,
            format!("written, but not deleted: {err:#}"),
            format!(
                "Let OFFBOX_ACCESS_KEY_ID delete objects too (old copies are deleted to keep OFFBOX_KEEP), \
                 and delete {key} by hand."
            ),
        ),
    }
}

/// One signed ping to a notification URL, shown masked.
fn ping(notifier: &crate::clients::notify::Notifier, target: &notify::Target, now: Timestamp) -> Check {
    let name = format!("notify {}", notify::mask_url(&target.url));
    let id = match crate::db::outbox::new_delivery_id(now) {
        Ok(id) => format!("msg_{id}"),
        Err(err) => return Check::fail(AREA, name, format!("no delivery id: {err}"), "Run sentinel doctor again."),
    };
    match notifier.post(&target.url, &id, &notify::ping_body(target, now), now) {
        Ok(()) => Check::ok(AREA, name, format!("answered a signed ping ({})", kinds(target))),
        Err(why) => Check::fail(
            AREA,
            name,
            why,
            "Check the URL in NOTIFY_WEBHOOK_URLS and that its receiver answers 2xx to a signed POST \
             (NOTIFY_WEBHOOK_SECRET must match its key).",
        ),
    }
}

fn kinds(target: &notify::Target) -> String {
    target.kinds.iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_never_taken_for_a_copy() -> anyhow::Result<()> {
        let now: Timestamp = "2026-03-03T08:00:00Z".parse()?;
        let key = probe_key("office/", now);
        assert_eq!(key, "office/sentinel-doctor-1772524800000.probe");
        assert!(!key.ends_with(".offbox"));
        Ok(())
    }
}
