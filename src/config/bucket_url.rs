//! The off-box bucket's address as `OFFBOX_URL` and `sentinel restore --offbox` give it:
//! parsed and checked here, so a bad value is refused with the configuration's other errors.
//! `offbox::bucket` is the only code that talks to the bucket.

/// A bucket's address, path-style: `https://host[:port]/bucket[/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUrl {
    /// `scheme://host[:port]`.
    pub endpoint: String,
    /// The bucket's name.
    pub bucket: String,
    /// The key prefix, empty or ending in `/`.
    pub prefix: String,
}

impl BucketUrl {
    /// Parses `https://s3.us-east-1.amazonaws.com/my-bucket/office`.
    pub fn parse(text: &str) -> Result<BucketUrl, String> {
        const EXPECTED: &str =
            "expected the bucket's URL, path-style, e.g. https://s3.us-east-1.amazonaws.com/my-bucket";
        let (endpoint, path) = split_url(text).ok_or(EXPECTED)?;
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if !valid_bucket_name(bucket) {
            return Err(format!("{EXPECTED} (no valid bucket name in the path)"));
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(BucketUrl { endpoint, bucket: bucket.to_string(), prefix })
    }

    /// Splits an object's URL, `https://host/bucket/key`, into its bucket and its key.
    pub fn parse_object(text: &str) -> Result<(BucketUrl, String), String> {
        let (endpoint, path) = split_url(text).ok_or("expected https://host/bucket/object")?;
        match path.split_once('/') {
            Some((bucket, key)) if valid_bucket_name(bucket) && !key.is_empty() && !key.ends_with('/') => {
                Ok((BucketUrl { endpoint, bucket: bucket.to_string(), prefix: String::new() }, key.to_string()))
            }
            _ => Err("expected https://host/bucket/object, the object's path-style URL".to_string()),
        }
    }
}

/// `scheme://authority` and the path without its leading `/`, for plain http(s) URLs with no
/// query, fragment or user.
fn split_url(text: &str) -> Option<(String, &str)> {
    let text = text.trim();
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"))?;
    let scheme_len = text.len() - rest.len();
    let (authority, path) = rest.split_once('/')?;
    let plain = |part: &str| !part.is_empty() && !part.contains(['?', '#', '@', ' ']);
    (plain(authority) && !path.contains(['?', '#'])).then(|| (text[..scheme_len + authority.len()].to_string(), path))
}

/// S3's rules, loosely: 3 to 63 lowercase letters, digits, dots and hyphens. B2 and MinIO
/// allow the same.
fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}
