//! The only code that talks to the off-box bucket: S3's PUT, GET, DELETE and ListObjectsV2.
//!
//! rusty-s3 signs each request as a presigned URL (AWS SigV4, no I/O of its own) and ureq sends
//! it, so one HTTP client serves GHL, the AI check and the bucket. Any S3-compatible service
//! works (AWS, Backblaze B2, Wasabi, MinIO), addressed path-style. Presigned URLs carry a
//! signature, so they are never logged; errors name the object and the bucket only.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use rusty_s3::{Credentials, S3Action as _, UrlStyle};

pub use crate::config::BucketUrl;
use crate::config::OffboxConfig;

/// One object in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its key, prefix included.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When the bucket says it was written, as the bucket wrote it.
    pub last_modified: Option<String>,
}

/// A bucket with its credentials, ready for requests.
pub struct Bucket {
    bucket: rusty_s3::Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    /// `endpoint/bucket`, for messages.
    label: String,
}

/// How long a presigned request stays valid: it is sent at once.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);
/// Most pages of a listing read (1,000 keys each).
const LIST_PAGES_MAX: usize = 100;

impl Bucket {
    /// The bucket at `url`, signed for with the configured credentials.
    pub fn new(url: &BucketUrl, config: &OffboxConfig) -> anyhow::Result<Bucket> {
        let (Some(key_id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) else {
            bail!("the bucket needs OFFBOX_ACCESS_KEY_ID and OFFBOX_SECRET_ACCESS_KEY");
        };
        let endpoint = url.endpoint.parse().map_err(|err| anyhow::format_err!("{}: {err}", url.endpoint))?;
        let bucket = rusty_s3::Bucket::new(endpoint, UrlStyle::Path, url.bucket.clone(), config.region.clone())
            .map_err(|err| anyhow::format_err!("{}/{}: {err}", url.endpoint, url.bucket))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            // A slow office uplink may take a while over a large database; stalls are caught
            // by the connection's own timeouts.
            .timeout_send_body(Some(Duration::from_secs(3600)))
            .timeout_recv_body(Some(Duration::from_secs(3600)))
            .build()
            .into();
        Ok(Bucket {
            bucket,
            credentials: Credentials::new(key_id.clone(), secret.expose().to_string()),
            agent,
            label: format!("{}/{}", url.endpoint, url.bucket),
        })
    }

    /// `endpoint/bucket`, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Uploads the file at `path` as `key`.
    pub fn put(&self, key: &str, path: &Path) -> anyhow::Result<()> {
        // Signed against the real clock, which S3 checks, never a test clock.
        let url = self.bucket.put_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        // A file body has a known length: S3 refuses chunked uploads without it.
        let response = self.agent.put(url.as_str()).send(file).map_err(|err| self.unreachable(err))?;
        self.expect_success(response, "PUT", key).map(drop)
    }

    /// Uploads `bytes` as `key`: a small object, such as the doctor's probe.
    pub fn put_bytes(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let url = self.bucket.put_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.agent.put(url.as_str()).send(bytes).map_err(|err| self.unreachable(err))?;
        self.expect_success(response, "PUT", key).map(drop)
    }

    /// Downloads `key` into `out`; returns the bytes written.
    pub fn get(&self, key: &str, out: &mut impl Write) -> anyhow::Result<u64> {
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.agent.get(url.as_str()).call().map_err(|err| self.unreachable(err))?;
        let response = self.expect_success(response, "GET", key)?;
        let mut body = response.into_body().into_reader();
        std::io::copy(&mut body, out).with_context(|| format!("downloading {key} from {}", self.label))
    }

    /// The first `limit` bytes of `key` (a `Range` request; a bucket that ignores it sends
    /// the whole object, of which only `limit` bytes are read).
    pub fn get_start(&self, key: &str, limit: u64) -> anyhow::Result<Vec<u8>> {
        use std::io::Read as _;
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let range = format!("bytes=0-{}", limit.saturating_sub(1));
        let response =
            self.agent.get(url.as_str()).header("Range", &range).call().map_err(|err| self.unreachable(err))?;
        let response = self.expect_success(response, "GET", key)?;
        let mut start = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(limit)
            .read_to_end(&mut start)
            .with_context(|| format!("downloading {key} from {}", self.label))?;
        Ok(start)
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &str) -> anyhow::Result<()> {
        let url = self.bucket.delete_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let response = self.agent.delete(url.as_str()).call().map_err(|err| self.unreachable(err))?;
        self.expect_success(response, "DELETE", key).map(drop)
    }

    /// Every object whose key starts with `prefix`.
    pub fn list(&self, prefix: &str) -> anyhow::Result<Vec<Object>> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..LIST_PAGES_MAX {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            action.with_prefix(prefix);
            if let Some(token) = &token {
                action.with_continuation_token(token.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let response = self.agent.get(url.as_str()).call().map_err(|err| self.unreachable(err))?;
            let mut response = self.expect_success(response, "LIST", prefix)?;
            let text = response.body_mut().read_to_string().context("reading the bucket's listing")?;
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&text)
                .map_err(|err| anyhow::format_err!("reading the bucket's listing: {err}"))?;
            objects.extend(page.contents.into_iter().map(|object| Object {
                key: object.key,
                size: object.size.unwrap_or(0),
                last_modified: object.last_modified,
            }));
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => return Ok(objects),
            }
        }
        bail!("the listing of {} did not end after {LIST_PAGES_MAX} pages", self.label)
    }

    fn unreachable(&self, err: ureq::Error) -> anyhow::Error {
        let mut why = err.to_string();
        // An error that quotes the request would quote its signature.
        if why.contains("X-Amz-") {
            why = "the request was not sent".to_string();
        }
        anyhow::format_err!("the bucket at {} cannot be reached: {why}", self.label)
    }

    /// The response if it is a 2xx, else an error with S3's code (`AccessDenied`, `NoSuchKey`).
    fn expect_success(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
        method: &str,
        key: &str,
    ) -> anyhow::Result<ureq::http::Response<ureq::Body>> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        let code = xml_text(&body, "Code").unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
        bail!("{} answered {method} {key} with {} {code}", self.label, status.as_u16())
    }
}

/// The text of the first `<tag>…</tag>` in an S3 error body.
fn xml_text(body: &str, tag: &str) -> Option<String> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + body[start..].find(&format!("</{tag}>"))?;
    Some(body[start..end].chars().take(100).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_are_path_style() -> Result<(), String> {
        let url = BucketUrl::parse("https://s3.eu-central-1.wasabisys.com/ntpp-backups")?;
        assert_eq!(url.endpoint, "https://s3.eu-central-1.wasabisys.com");
        assert_eq!((url.bucket.as_str(), url.prefix.as_str()), ("ntpp-backups", ""));
        let url = BucketUrl::parse("http://127.0.0.1:9000/backups/office/pi/")?;
        assert_eq!((url.endpoint.as_str(), url.prefix.as_str()), ("http://127.0.0.1:9000", "office/pi/"));
        for bad in [
            "s3://backups",
            "https://s3.amazonaws.com",
            "https://s3.amazonaws.com/",
            "https://s3.amazonaws.com/My_Bucket",
            "https://user:pw@host/bucket",
            "https://host/bucket?x=1",
            "ftp://host/bucket",
        ] {
            assert!(BucketUrl::parse(bad).is_err(), "{bad}");
        }
        let (url, key) = BucketUrl::parse_object("https://host:9000/backups/office/sentinel-2026-03-03.offbox")?;
        assert_eq!((url.bucket.as_str(), key.as_str()), ("backups", "office/sentinel-2026-03-03.offbox"));
        assert!(BucketUrl::parse_object("https://host/backups/").is_err());
        Ok(())
    }

    /// ASCII host names are all an S3 endpoint needs (Cargo.lock pins idna's stub back end).
    #[test]
    fn endpoints_with_ascii_host_names_are_accepted() -> anyhow::Result<()> {
        let config = OffboxConfig {
            bucket: None,
            region: "us-west-004".into(),
            access_key_id: Some("004abc".into()),
            secret_access_key: Some(crate::config::Secret::new("K004-secret")),
            encryption_key: None,
            keep: 14,
        };
        let url =
            BucketUrl::parse("https://s3.us-west-004.backblazeb2.com/ntpp-backups").map_err(anyhow::Error::msg)?;
        assert_eq!(Bucket::new(&url, &config)?.label(), "https://s3.us-west-004.backblazeb2.com/ntpp-backups");
        let unicode = BucketUrl::parse("https://bücher.example/ntpp-backups").map_err(anyhow::Error::msg)?;
        assert!(Bucket::new(&unicode, &config).is_err());
        Ok(())
    }

    #[test]
    fn s3_error_codes_are_read() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>no</Message></Error>";
        assert_eq!(xml_text(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(xml_text("<html>", "Code"), None);
    }
}
