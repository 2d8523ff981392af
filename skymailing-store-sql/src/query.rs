//! Small helpers every SQL store's queries use.

use skymailing_core::ListQuery;

/// A LIKE pattern matching `search` anywhere, its wildcards taken literally
/// (the queries say `ESCAPE '\'`).
pub fn like(search: &Option<String>) -> Option<String> {
    search.as_ref().map(|s| {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    })
}

/// LIMIT and OFFSET of a list query.
pub fn limits(q: &ListQuery) -> (i64, i64) {
    (
        i64::from(q.per_page),
        i64::try_from(q.offset()).unwrap_or(i64::MAX),
    )
}
