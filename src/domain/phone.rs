//! Phone numbers: normalisation (SPEC §3.4) and masking for logs and digests.
//!
//! A [`Phone`] is normalised when it is built, so two spellings of one number compare equal
//! and the spam list matches whatever format a payload or a manager used.

use std::fmt;

/// A normalised phone number: digits with a leading `+` when the country is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// Normalises a phone as SPEC §3.4 says: keep digits and a leading `+`, `00` → `+`,
    /// 10 digits → `+1…`, 11 digits starting with 1 → `+…`. `None` when no digits remain.
    pub fn parse(raw: &str) -> Option<Phone> {
        let raw = raw.trim();
        let plus = raw.starts_with('+');
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if digits.len() < 3 {
            return None;
        }
        let normalised = if plus {
            format!("+{digits}")
        } else if let Some(rest) = digits.strip_prefix("00") {
            format!("+{rest}")
        } else if digits.len() == 10 {
            format!("+1{digits}")
        } else if digits.len() == 11 && digits.starts_with('1') {
            format!("+{digits}")
        } else {
            digits
        };
        Some(Phone(normalised))
    }

    /// The normalised text, e.g. `+12145550199`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+1***0199`: enough for staff to recognise, not enough to leak (SPEC §6, §11).
    pub fn masked(&self) -> String {
        mask_digits(&self.0)
    }
}

/// How people read a phone, in SMS and on pages (issue 24): a North American number in its
/// national form, `(214) 555-0001`; any other number as stored, e.g. `+442079460000`. Keys,
/// the database and GHL take [`Phone::as_str`].
impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanp = self.0.strip_prefix("+1").filter(|national| {
            let digits = national.as_bytes();
            // NANP area codes and exchanges start with 2-9.
            digits.len() == 10 && digits[0] >= b'2' && digits[3] >= b'2'
        });
        match nanp {
            Some(national) => write!(f, "({}) {}-{}", &national[..3], &national[3..6], &national[6..]),
            None => f.write_str(&self.0),
        }
    }
}

/// Masks any phone-like text to its country prefix and last four digits.
pub fn mask_digits(text: &str) -> String {
    let digits: Vec<char> = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 4 {
        return "***".to_string();
    }
    let tail: String = digits[digits.len() - 4..].iter().collect();
    let prefix = if text.starts_with("+1") {
        "+1"
    } else if text.starts_with('+') {
        "+"
    } else {
        ""
    };
    format!("{prefix}***{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(raw: &str, expected: Option<&str>) {
        assert_eq!(Phone::parse(raw).as_ref().map(Phone::as_str), expected, "{raw:?}");
    }

    /// Issue 24 item 9e: phones showed as `+12145550001` in SMS and on pages.
    #[test]
    fn people_read_north_american_numbers_in_national_form() {
        let shown = |raw: &str| Phone::parse(raw).expect("a phone").to_string();
        assert_eq!(shown("+12145550001"), "(214) 555-0001");
        assert_eq!(shown("214.555.0001"), "(214) 555-0001");
        assert_eq!(shown("+442079460000"), "+442079460000", "another country stays E.164");
        assert_eq!(shown("+11235550001"), "+11235550001", "no area code starts with 1");
        assert_eq!(shown("5550001"), "5550001", "no country known");
        assert_eq!(Phone::parse("(214) 555-0001").expect("a phone").as_str(), "+12145550001", "stored as E.164");
    }

    #[test]
    fn normalisation_follows_the_spec() {
        check("(214) 555-0199", Some("+12145550199"));
        check("214.555.0199", Some("+12145550199"));
        check("1-214-555-0199", Some("+12145550199"));
        check("+1 (214) 555-0199", Some("+12145550199"));
        check("0044 20 7946 0958", Some("+442079460958"));
        check("+44 20 7946 0958", Some("+442079460958"));
        check("5550199", Some("5550199"));
        check("", None);
        check("call me", None);
    }

    #[test]
    fn masking_keeps_the_last_four_digits() {
        let phone = Phone::parse("(214) 555-0104").map(|p| p.masked());
        assert_eq!(phone.as_deref(), Some("+1***0104"));
        assert_eq!(mask_digits("12"), "***");
    }
}
