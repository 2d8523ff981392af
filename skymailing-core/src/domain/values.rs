//! Validated values shared by several aggregates.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::{Error, Reason};

/// An email address, validated (RFC 5322 addr-spec, no display text, no domain
/// literal, a dot in the domain) and stored lower-cased, so that equality and
/// uniqueness are case-insensitive everywhere.
///
/// ```
/// use skymailing_core::EmailAddress;
/// let e = EmailAddress::parse(" Ann@Example.COM ").unwrap();
/// assert_eq!(e.as_str(), "ann@example.com");
/// assert!(EmailAddress::parse("ann@example.com\r\nBcc: x@y.z").is_err());
/// // One address, one spelling: NFD and NFC forms are the same address.
/// assert_eq!(EmailAddress::parse("jose\u{301}@example.com").unwrap(), EmailAddress::parse("jos\u{e9}@example.com").unwrap());
/// // Only what a relay will take.
/// assert!(EmailAddress::parse("\"john..doe\"@example.org").is_err());
/// assert!(EmailAddress::parse("john..doe@example.org").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The longest address accepted (RFC 5321's path limit less the brackets).
    pub const MAX_LEN: usize = 254;

    /// Parses the `email` field.
    pub fn parse(input: &str) -> Result<Self, Error> {
        Self::parse_field("email", input)
    }

    /// Parses an address for the named field.
    pub fn parse_field(field: &'static str, input: &str) -> Result<Self, Error> {
        // One spelling per address: the composed (NFC) form of any accents.
        let normalized: String = input.trim().nfc().collect();
        let s = normalized.as_str();
        if s.is_empty() {
            return Err(Error::invalid(field, Reason::Required));
        }
        if s.len() > Self::MAX_LEN {
            return Err(Error::invalid(
                field,
                Reason::TooLong { max: Self::MAX_LEN },
            ));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Error::invalid(field, Reason::SpacesInAddress));
        }
        let options = email_address::Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
            allow_long_local_parts: false,
        };
        email_address::EmailAddress::parse_with_options(s, options).map_err(|e| {
            Error::invalid(
                field,
                Reason::InvalidEmail {
                    detail: e.to_string(),
                },
            )
        })?;
        // What a relay takes: a dot-atom before the @ (no quoted local part,
        // no leading, trailing or doubled dot), as RFC 5321 senders expect.
        let local = s.rsplit_once('@').map_or(s, |(l, _)| l);
        if !is_dot_atom(local) {
            return Err(Error::invalid(
                field,
                Reason::InvalidEmail {
                    detail: "the part before @ must be letters, digits and .!#$%&'*+-/=?^_`{|}~ \
                             without quotes, spaces or two dots in a row"
                        .into(),
                },
            ));
        }
        Ok(EmailAddress(s.to_lowercase()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain part (after the `@`).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// Wraps an address that was validated before (read back from a store).
    pub(crate) fn from_trusted(s: impl Into<String>) -> Self {
        EmailAddress(s.into())
    }
}

/// Whether `local` is a dot-atom: atoms of letters (any script), digits and
/// RFC 5322 `atext` symbols, joined by single dots.
fn is_dot_atom(local: &str) -> bool {
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EmailAddress {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EmailAddress::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Trims `input` and checks it is one line of 1..=`max` characters.
pub fn single_line(field: &'static str, input: &str, max: usize) -> Result<String, Error> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::invalid(field, Reason::Required));
    }
    if s.chars().count() > max {
        return Err(Error::invalid(field, Reason::TooLong { max }));
    }
    if s.chars().any(char::is_control) {
        return Err(Error::invalid(field, Reason::NotSingleLine));
    }
    Ok(s.to_owned())
}

/// Checks free text of at most `max` characters (newlines and tabs allowed, other
/// control characters refused); `required` refuses blank text.
pub fn bounded_text(
    field: &'static str,
    input: &str,
    max: usize,
    required: bool,
) -> Result<String, Error> {
    if required && input.trim().is_empty() {
        return Err(Error::invalid(field, Reason::Required));
    }
    if input.chars().count() > max {
        return Err(Error::invalid(field, Reason::TooLong { max }));
    }
    if input
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(field, Reason::ControlCharacters));
    }
    Ok(input.to_owned())
}

/// A person's display name: one line, 1 to 100 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses the `name` field.
    pub fn parse(input: &str) -> Result<Self, Error> {
        Self::parse_field("name", input)
    }
    /// Parses a display name for the named field.
    pub fn parse_field(field: &'static str, input: &str) -> Result<Self, Error> {
        single_line(field, input, 100).map(DisplayName)
    }
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Wraps a name that was validated before.
    pub(crate) fn from_trusted(s: impl Into<String>) -> Self {
        DisplayName(s.into())
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IANA time zone (`Europe/Moscow`); schedules are computed in it. Built
/// by [`TimeZone::parse`]; the time-zone database behind it is ours to choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub(crate) chrono_tz::Tz);

impl TimeZone {
    /// UTC.
    pub const UTC: TimeZone = TimeZone(chrono_tz::UTC);

    /// Every zone's IANA name, sorted (for a picker).
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> =
            chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
        names.sort_unstable();
        names
    }

    /// Parses the `time_zone` field.
    pub fn parse(input: &str) -> Result<Self, Error> {
        input
            .trim()
            .parse::<chrono_tz::Tz>()
            .map(TimeZone)
            .map_err(|_| Error::invalid("time_zone", Reason::UnknownTimeZone))
    }
    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// `t` on this zone's clocks (with the offset in force then).
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.0).fixed_offset()
    }

    /// The label of this zone's clocks at `t`: its abbreviation where it has
    /// a lettered one (`MSK`, `CET`, `EDT`, `UTC`), else the offset (`UTC+04`,
    /// `UTC+05:30`).
    pub fn label(&self, t: DateTime<Utc>) -> String {
        use chrono_tz::OffsetName;
        let local = t.with_timezone(&self.0);
        match local.offset().abbreviation() {
            Some(a) if a.chars().all(|c| c.is_ascii_alphabetic()) => a.to_owned(),
            _ => {
                let offset = local.fixed_offset().format("%:z").to_string();
                format!("UTC{}", offset.strip_suffix(":00").unwrap_or(&offset))
            }
        }
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::UTC
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeZone::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A preferred language, as a BCP 47 primary subtag (`en`, `ru`): the pages
/// (and what else speaks to the user) use it when they have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Language(String);

impl Language {
    /// Parses the `language` field: `ru`, `RU`, `ru-RU` all give `ru`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let primary = input.trim().split(['-', '_']).next().unwrap_or_default();
        if (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic()) {
            Ok(Language(primary.to_ascii_lowercase()))
        } else {
            Err(Error::invalid("language", Reason::UnknownLanguage))
        }
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Wraps a code that was validated before.
    pub(crate) fn from_trusted(s: impl Into<String>) -> Self {
        Language(s.into())
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed: 8 to 1024 characters. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Parses the `password` field.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let n = input.chars().count();
        if n < 8 {
            return Err(Error::invalid("password", Reason::TooShort { min: 8 }));
        }
        if n > 1024 {
            return Err(Error::invalid("password", Reason::TooLong { max: 1024 }));
        }
        Ok(Password(input.to_owned()))
    }
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod zone_tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn zone_labels_are_abbreviations_or_offsets() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let label = |z: &str, at: &str| TimeZone::parse(z).unwrap().label(t(at));
        assert_eq!(label("Europe/Moscow", "2026-12-01T12:00:00Z"), "MSK");
        assert_eq!(label("Europe/Berlin", "2026-12-01T12:00:00Z"), "CET");
        assert_eq!(label("Europe/Berlin", "2026-07-01T12:00:00Z"), "CEST");
        assert_eq!(label("UTC", "2026-07-01T12:00:00Z"), "UTC");
        assert_eq!(label("Asia/Dubai", "2026-07-01T12:00:00Z"), "UTC+04");
        assert_eq!(label("Asia/Kolkata", "2026-07-01T12:00:00Z"), "IST");
        assert_eq!(label("Asia/Kathmandu", "2026-07-01T12:00:00Z"), "UTC+05:45");
        assert!(TimeZone::names().contains(&"Europe/Moscow"));
    }
}
