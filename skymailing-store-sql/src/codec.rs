//! Strict column codecs: a stored value that does not decode is an error
//! (`sqlx::Error::ColumnDecode`, a `StoreError::Backend` for the caller),
//! never a guess — no unknown role read as `user`, no bad time read as 1970,
//! no broken id list read as "no recipients".
//!
//! Names are read with sqlx's `#[sqlx(try_from = "String")]` on row fields;
//! the per-backend types (times, counts, id lists) decode as columns
//! themselves under the `postgres` and `sqlite` features.

use chrono::{DateTime, NaiveDate, Utc};
use skymailing_core::{
    DeliveryState, DisabledBy, FeedbackKind, Periodicity, Role, SuppressionReason, TimeZone,
    UserState,
};

/// Tags as stored: `|vip|berlin|` (each between bars, so that a query finds
/// a tag with `|tag|` as a substring), or `''` for none.
pub fn encode_tags(tags: &[String]) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!("|{}|", tags.join("|"))
    }
}

/// Tags as [`encode_tags`] stored them.
pub fn decode_tags(s: &str) -> Vec<String> {
    s.split('|')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Patterns that find each tag in a stored tag list (`|tag|`).
pub fn tag_patterns(tags: &[String]) -> Vec<String> {
    tags.iter().map(|t| format!("|{t}|")).collect()
}

/// The sort key a client's name is stored with ([`skymailing_core::natural_key`];
/// never `''`, which marks a row whose key is still to be computed).
pub fn stored_sort_key(full_name: &str) -> String {
    let key = skymailing_core::natural_key(full_name);
    if key.is_empty() { " ".to_owned() } else { key }
}

/// Each tag's number of clients, from the distinct stored tag lists and how
/// many clients have each list.
pub fn count_tags(lists: Vec<(String, i64)>) -> Vec<(String, u64)> {
    let mut by_tag: std::collections::BTreeMap<String, u64> = Default::default();
    for (list, n) in lists {
        for t in decode_tags(&list) {
            *by_tag.entry(t).or_default() += u64::try_from(n).unwrap_or(0);
        }
    }
    by_tag.into_iter().collect()
}

/// A stored value that does not decode: what it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow(pub String);

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadRow {}

/// A value stored by name (`manager`, `Europe/Moscow`).
pub trait Named: Sized {
    /// What it is, for the error.
    const WHAT: &'static str;
    /// The value of a stored name, if it is one.
    fn from_name(s: &str) -> Option<Self>;
}

impl Named for Role {
    const WHAT: &'static str = "role";
    fn from_name(s: &str) -> Option<Self> {
        Role::parse(s).ok()
    }
}

impl Named for UserState {
    const WHAT: &'static str = "user state";
    fn from_name(s: &str) -> Option<Self> {
        UserState::parse(s).ok()
    }
}

impl Named for Periodicity {
    const WHAT: &'static str = "periodicity";
    fn from_name(s: &str) -> Option<Self> {
        Periodicity::parse(s).ok()
    }
}

impl Named for DeliveryState {
    const WHAT: &'static str = "delivery state";
    fn from_name(s: &str) -> Option<Self> {
        DeliveryState::parse(s)
    }
}

impl Named for DisabledBy {
    const WHAT: &'static str = "disabled-by reason";
    fn from_name(s: &str) -> Option<Self> {
        DisabledBy::parse(s)
    }
}

impl Named for SuppressionReason {
    const WHAT: &'static str = "suppression reason";
    fn from_name(s: &str) -> Option<Self> {
        SuppressionReason::parse(s)
    }
}

impl Named for FeedbackKind {
    const WHAT: &'static str = "feedback kind";
    fn from_name(s: &str) -> Option<Self> {
        FeedbackKind::parse(s)
    }
}

impl Named for TimeZone {
    const WHAT: &'static str = "time zone";
    fn from_name(s: &str) -> Option<Self> {
        // Stored zones were validated on the way in: exactly a zone's name.
        (s.trim() == s).then(|| TimeZone::parse(s).ok()).flatten()
    }
}

/// A value stored by name, decoded strictly (`#[sqlx(try_from = "String")]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<T>(pub T);

impl<T: Named> TryFrom<String> for Parsed<T> {
    type Error = BadRow;
    fn try_from(s: String) -> Result<Self, BadRow> {
        T::from_name(&s)
            .map(Parsed)
            .ok_or_else(|| BadRow(format!("unknown {} `{s}` in a stored row", T::WHAT)))
    }
}

/// An optional value stored by name (`#[sqlx(try_from = "Option<String>")]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptParsed<T>(pub Option<T>);

impl<T: Named> TryFrom<Option<String>> for OptParsed<T> {
    type Error = BadRow;
    fn try_from(s: Option<String>) -> Result<Self, BadRow> {
        s.map(Parsed::<T>::try_from)
            .transpose()
            .map(|p| OptParsed(p.map(|p| p.0)))
    }
}

/// A time kept as microseconds since the epoch (SQLite's columns), decoded
/// strictly: a SQLite row field of this type reads the integer and fails on
/// one that is no time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Micros(pub DateTime<Utc>);

impl From<Micros> for DateTime<Utc> {
    fn from(m: Micros) -> Self {
        m.0
    }
}

/// A small count (attempts, skipped slots): an `int4` in PostgreSQL, an
/// integer in SQLite; a negative or oversized one is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Small(pub u32);

impl TryFrom<i64> for Small {
    type Error = BadRow;
    fn try_from(v: i64) -> Result<Self, BadRow> {
        u32::try_from(v)
            .map(Small)
            .map_err(|_| BadRow(format!("{v} is not a count")))
    }
}

impl TryFrom<i64> for Micros {
    type Error = BadRow;
    fn try_from(v: i64) -> Result<Self, BadRow> {
        micros(v).map(Micros)
    }
}

/// Microseconds since the epoch as a time.
pub fn micros(v: i64) -> Result<DateTime<Utc>, BadRow> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| BadRow(format!("{v} µs is not a time")))
}

/// A day stored as `YYYY-MM-DD`.
pub fn day(s: &str) -> Result<NaiveDate, BadRow> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| BadRow(format!("`{s}` is not a day")))
}

/// A list of ids kept as a JSON array (SQLite's `json_group_array`), decoded
/// strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonIds(pub Vec<i64>);

impl From<JsonIds> for Vec<i64> {
    fn from(ids: JsonIds) -> Self {
        ids.0
    }
}

impl TryFrom<String> for JsonIds {
    type Error = BadRow;
    fn try_from(s: String) -> Result<Self, BadRow> {
        serde_json::from_str(&s)
            .map(JsonIds)
            .map_err(|e| BadRow(format!("a stored id list does not parse ({e}): `{s}`")))
    }
}

/// A count or a size, which a database hands back as a signed integer.
pub fn count(v: i64) -> u64 {
    // COUNT(*) and sums of counts are never negative.
    u64::try_from(v).unwrap_or(0)
}

/// How each backend reads the codec types as columns.
#[cfg(feature = "sqlite")]
mod sqlite {
    use super::{JsonIds, Micros, Small};
    use sqlx::error::BoxDynError;
    use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
    use sqlx::{Decode, Sqlite, Type};

    /// A codec type read through a plain column type `P`.
    macro_rules! through {
        ($t:ty, $p:ty) => {
            impl Type<Sqlite> for $t {
                fn type_info() -> SqliteTypeInfo {
                    <$p as Type<Sqlite>>::type_info()
                }
                fn compatible(ty: &SqliteTypeInfo) -> bool {
                    <$p as Type<Sqlite>>::compatible(ty)
                }
            }
            impl<'r> Decode<'r, Sqlite> for $t {
                fn decode(v: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
                    Ok(<$t>::try_from(<$p as Decode<'r, Sqlite>>::decode(v)?)?)
                }
            }
        };
    }
    through!(Micros, i64);
    through!(Small, i64);
    through!(JsonIds, String);
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::Small;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgTypeInfo, PgValueRef};
    use sqlx::{Decode, Postgres, Type};

    impl Type<Postgres> for Small {
        fn type_info() -> PgTypeInfo {
            <i32 as Type<Postgres>>::type_info()
        }
    }
    impl<'r> Decode<'r, Postgres> for Small {
        fn decode(v: PgValueRef<'r>) -> Result<Self, BoxDynError> {
            Ok(Small::try_from(i64::from(<i32 as Decode<
                'r,
                Postgres,
            >>::decode(v)?))?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decode_exactly_or_not_at_all() {
        assert_eq!(
            Parsed::<Role>::try_from("manager".to_owned()),
            Ok(Parsed(Role::Manager))
        );
        let e = Parsed::<Role>::try_from("superuser".to_owned()).unwrap_err();
        assert!(e.0.contains("unknown role `superuser`"), "{e}");
        assert!(Parsed::<UserState>::try_from("gone".to_owned()).is_err());
        assert!(Parsed::<DeliveryState>::try_from("lost".to_owned()).is_err());
        assert!(Parsed::<Periodicity>::try_from("hourly".to_owned()).is_err());
        assert!(Parsed::<TimeZone>::try_from("Mars/Olympus".to_owned()).is_err());
        assert!(Parsed::<TimeZone>::try_from(" UTC".to_owned()).is_err());
        assert_eq!(OptParsed::<DisabledBy>::try_from(None), Ok(OptParsed(None)));
        assert!(OptParsed::<DisabledBy>::try_from(Some("moon".to_owned())).is_err());
    }

    #[test]
    fn times_and_id_lists_decode_strictly() {
        assert!(Micros::try_from(i64::MAX).is_err());
        assert_eq!(Micros::try_from(0).unwrap().0, DateTime::<Utc>::UNIX_EPOCH);
        assert!(Small::try_from(-1).is_err());
        assert!(Small::try_from(i64::from(u32::MAX) + 1).is_err());
        assert_eq!(Small::try_from(3), Ok(Small(3)));
        assert!(day("2026-02-30").is_err());
        assert_eq!(
            JsonIds::try_from("[1,2]".to_owned()),
            Ok(JsonIds(vec![1, 2]))
        );
        assert!(JsonIds::try_from("[1,".to_owned()).is_err());
        assert!(JsonIds::try_from("".to_owned()).is_err());
    }
}
