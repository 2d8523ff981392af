//! Pagination and search for lists.

use serde::Serialize;

use crate::{Error, Reason};

/// Which slice of a list to return, and an optional search text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// 1-based page number.
    pub page: u32,
    /// Items per page (1..=200).
    pub per_page: u32,
    /// Case-insensitive substring to filter on (what it matches depends on the list).
    pub search: Option<String>,
    /// A tag the items must carry (lists of clients; others ignore it).
    pub tag: Option<String>,
}

impl ListQuery {
    /// The largest page size accepted.
    pub const MAX_PER_PAGE: u32 = 200;

    /// Validates page, size and search text.
    pub fn new(page: u32, per_page: u32, search: Option<&str>) -> Result<Self, Error> {
        if page == 0 {
            return Err(Error::invalid("page", Reason::PageTooSmall));
        }
        if per_page == 0 || per_page > Self::MAX_PER_PAGE {
            return Err(Error::invalid(
                "per_page",
                Reason::OutOfRange {
                    min: 1,
                    max: i64::from(Self::MAX_PER_PAGE),
                },
            ));
        }
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > 200) {
            return Err(Error::invalid("search", Reason::TooLong { max: 200 }));
        }
        // No store can search for them (a NUL ends FTS5's query text, and
        // PostgreSQL refuses it in any text), and no one types them.
        if search.is_some_and(|s| s.chars().any(char::is_control)) {
            return Err(Error::invalid("search", Reason::ControlCharacters));
        }
        Ok(ListQuery {
            page,
            per_page,
            search: search.map(str::to_lowercase),
            tag: None,
        })
    }

    /// The same query, keeping only clients that carry `tag` (blank: any).
    pub fn with_tag(self, tag: Option<&str>) -> Result<Self, Error> {
        let tag = crate::domain::parse_tags("tag", tag)?.into_iter().next();
        Ok(ListQuery { tag, ..self })
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.per_page)
    }
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            page: 1,
            per_page: 50,
            search: None,
            tag: None,
        }
    }
}

/// One page of a list and the total number of items that match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Matching items on all pages.
    pub total: u64,
    /// This page's number (1-based).
    pub page: u32,
    /// The page size asked for.
    pub per_page: u32,
}

impl<T> Page<T> {
    /// Builds a page from a query and its results.
    pub fn new(items: Vec<T>, total: u64, query: &ListQuery) -> Self {
        Page {
            items,
            total,
            page: query.page,
            per_page: query.per_page,
        }
    }
    /// Number of pages (at least 1).
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(u64::from(self.per_page)).max(1)
    }
    /// Maps the items, keeping the counts.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            per_page: self.per_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_trimmed_lowercased_and_checked() {
        let q = ListQuery::new(1, 50, Some("  Ann Lee ")).unwrap();
        assert_eq!(q.search.as_deref(), Some("ann lee"));
        assert_eq!(ListQuery::new(1, 50, Some("   ")).unwrap().search, None);
        for bad in ["abc\0", "a\u{7}b", "two\nlines"] {
            let e = ListQuery::new(1, 50, Some(bad)).unwrap_err();
            assert_eq!(
                (e.field(), e.reason()),
                (Some("search"), Some(&Reason::ControlCharacters)),
                "{bad:?}"
            );
        }
        let long = "x".repeat(201);
        assert!(ListQuery::new(1, 50, Some(&long)).is_err());
        assert!(ListQuery::new(0, 50, None).is_err());
        assert!(ListQuery::new(1, 201, None).is_err());
    }
}
