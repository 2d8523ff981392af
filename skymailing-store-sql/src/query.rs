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

/// Searches use the stores' trigram indexes from this many clients in the
/// owner's list; below, the owner's clients are read as they are (the
/// indexes hold every owner's clients, and a small list should not pay for
/// — nor its search time tell of — matches in other owners' lists).
pub const INDEXED_SEARCH_FROM: i64 = 2_000;

/// LIMIT and OFFSET of a list query.
pub fn limits(q: &ListQuery) -> (i64, i64) {
    (
        i64::from(q.per_page),
        i64::try_from(q.offset()).unwrap_or(i64::MAX),
    )
}

/// Which rows of a list ordered one way a page is, read from the nearer end.
///
/// A deep page read forwards skips `offset` index entries; past the middle of
/// a list whose total is known, the same rows are fewer entries away from the
/// end: read in the opposite order, skipping what lies after the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// `LIMIT limit OFFSET offset` in the list's order.
    Forward {
        /// Rows to read.
        limit: i64,
        /// Rows to skip first.
        offset: i64,
    },
    /// `LIMIT limit OFFSET offset` in the opposite order.
    Backward {
        /// Rows to read.
        limit: i64,
        /// Rows to skip first, from the end.
        offset: i64,
    },
}

/// The window of the list query's page in a list of `total` rows.
pub fn window(q: &ListQuery, total: i64) -> Window {
    let (limit, offset) = limits(q);
    if offset >= total || offset <= total / 2 {
        return Window::Forward { limit, offset };
    }
    let end = offset.saturating_add(limit).min(total);
    Window::Backward {
        limit: end - offset,
        offset: total - end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: u32, per_page: u32) -> ListQuery {
        ListQuery::new(page, per_page, None).unwrap()
    }

    #[test]
    fn pages_up_to_the_middle_are_read_forwards() {
        assert_eq!(
            window(&page(1, 50), 1000),
            Window::Forward {
                limit: 50,
                offset: 0
            }
        );
        assert_eq!(
            window(&page(11, 50), 1000),
            Window::Forward {
                limit: 50,
                offset: 500
            }
        );
        assert_eq!(
            window(&page(1, 50), 0),
            Window::Forward {
                limit: 50,
                offset: 0
            }
        );
    }

    #[test]
    fn pages_past_the_middle_are_read_from_the_end() {
        // Rows 950..1000: the last 50.
        assert_eq!(
            window(&page(20, 50), 1000),
            Window::Backward {
                limit: 50,
                offset: 0
            }
        );
        // A short last page: rows 990..1001 are the last 11.
        assert_eq!(
            window(&page(100, 10), 1001),
            Window::Backward {
                limit: 10,
                offset: 1
            }
        );
        assert_eq!(
            window(&page(101, 10), 1001),
            Window::Backward {
                limit: 1,
                offset: 0
            }
        );
        // Rows 550..600 of 1000: 400 follow them.
        assert_eq!(
            window(&page(12, 50), 1000),
            Window::Backward {
                limit: 50,
                offset: 400
            }
        );
    }

    #[test]
    fn pages_past_the_end_stay_empty() {
        assert_eq!(
            window(&page(21, 50), 1000),
            Window::Forward {
                limit: 50,
                offset: 1000
            }
        );
        assert_eq!(
            window(&page(u32::MAX, 200), 10),
            Window::Forward {
                limit: 200,
                offset: (u64::from(u32::MAX) - 1) as i64 * 200
            }
        );
    }
}
