//! Remembered positions in long client lists, so that a deep page is found
//! near where it starts instead of by skipping every row before it.
//!
//! An owner's list in order (`sort_key`, `id`) is cut every [`STRIDE`] rows;
//! the row at each cut is its anchor. A page at offset `o` then reads from
//! anchor `o / STRIDE` and skips fewer than `STRIDE` rows. Anchors hold
//! while the owner's list is as it was: the stores keep a count of each
//! owner's list changes (`client_counts.changes`, bumped by triggers when a
//! client is added, removed or renamed), read it with the total, and use
//! anchors taken at that same count only — in every process alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Rows between two anchors (and the offset below which none are used).
pub const STRIDE: i64 = 1_000;

/// Owners whose anchors are kept at once (the least recently used go first).
const OWNERS: usize = 256;

/// The row at each cut of one owner's list: `(sort_key, id)` of rows
/// `0, STRIDE, 2 * STRIDE, …`.
pub type Cuts = Arc<Vec<(String, i64)>>;

/// Anchors by owner, each valid for one count of that owner's list changes.
#[derive(Debug, Default)]
pub struct Anchors {
    owners: Mutex<HashMap<i64, Entry>>,
}

#[derive(Debug)]
struct Entry {
    changes: i64,
    cuts: Cuts,
    used: u64,
}

/// Where a page is read from: an anchor's row, then rows skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The anchor's sort key and id: the page's rows are at or after it.
    pub from: (String, i64),
    /// Rows to skip from the anchor (fewer than [`STRIDE`]).
    pub skip: i64,
}

impl Anchors {
    /// The anchors of `owner`'s list as of `changes`, if kept.
    pub fn get(&self, owner: i64, changes: i64) -> Option<Cuts> {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        let tick = next_tick(&owners);
        let e = owners.get_mut(&owner).filter(|e| e.changes == changes)?;
        e.used = tick;
        Some(Arc::clone(&e.cuts))
    }

    /// Keeps the anchors of `owner`'s list as of `changes`.
    pub fn put(&self, owner: i64, changes: i64, cuts: Cuts) {
        let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
        if owners.len() >= OWNERS && !owners.contains_key(&owner) {
            let oldest = owners.iter().min_by_key(|(_, e)| e.used).map(|(o, _)| *o);
            if let Some(o) = oldest {
                owners.remove(&o);
            }
        }
        let used = next_tick(&owners);
        owners.insert(
            owner,
            Entry {
                changes,
                cuts,
                used,
            },
        );
    }
}

impl Anchors {
    /// Where a page at `offset` of `owner`'s list (`total` rows, `changes`
    /// as read with the total) starts, if it is deep enough to start from an
    /// anchor: from the kept anchors, else from those `take` reads —
    /// `(changes, sort_key, id)` of every `STRIDE`-th row, read in one
    /// statement so that the count of changes is the one they were taken
    /// at — which are then kept.
    pub async fn start_of<F, E>(
        &self,
        owner: i64,
        changes: i64,
        total: i64,
        offset: i64,
        take: impl FnOnce() -> F,
    ) -> Result<Option<Start>, E>
    where
        F: std::future::Future<Output = Result<Vec<(i64, String, i64)>, E>>,
    {
        if offset < STRIDE || offset >= total {
            return Ok(None);
        }
        let cuts = match self.get(owner, changes) {
            Some(cuts) => cuts,
            None => {
                let rows = take().await?;
                let taken_at = rows.first().map_or(changes, |r| r.0);
                let cuts: Cuts = Arc::new(rows.into_iter().map(|(_, key, id)| (key, id)).collect());
                self.put(owner, taken_at, Arc::clone(&cuts));
                cuts
            }
        };
        Ok(start(&cuts, offset))
    }
}

fn next_tick(owners: &HashMap<i64, Entry>) -> u64 {
    owners.values().map(|e| e.used).max().unwrap_or(0) + 1
}

/// Where a page at `offset` starts, from the cuts (none: read from the
/// list's start, or past its end).
pub fn start(cuts: &[(String, i64)], offset: i64) -> Option<Start> {
    let at = usize::try_from(offset / STRIDE).ok()?;
    let from = cuts.get(at)?.clone();
    Some(Start {
        from,
        skip: offset % STRIDE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts(n: i64) -> Cuts {
        Arc::new((0..n).map(|i| (format!("k{i}"), i)).collect())
    }

    #[test]
    fn anchors_hold_for_their_count_of_changes_only() {
        let a = Anchors::default();
        assert!(a.get(1, 0).is_none());
        a.put(1, 7, cuts(3));
        assert_eq!(a.get(1, 7).unwrap().len(), 3);
        assert!(a.get(1, 8).is_none(), "the list changed since");
        assert!(a.get(2, 7).is_none(), "another owner's");
        a.put(1, 8, cuts(4));
        assert_eq!(a.get(1, 8).unwrap().len(), 4);
    }

    #[test]
    fn the_least_recently_used_owner_goes_first() {
        let a = Anchors::default();
        for owner in 0..OWNERS as i64 {
            a.put(owner, 0, cuts(1));
        }
        assert!(a.get(0, 0).is_some());
        a.put(10_000, 0, cuts(1));
        assert!(a.get(0, 0).is_some(), "just used");
        assert!(a.get(1, 0).is_none(), "least recently used");
        assert_eq!(a.owners.lock().unwrap().len(), OWNERS);
    }

    #[test]
    fn a_page_starts_at_its_cut() {
        let c = cuts(3);
        assert_eq!(
            start(&c, 0),
            Some(Start {
                from: ("k0".into(), 0),
                skip: 0
            })
        );
        assert_eq!(
            start(&c, 2_050),
            Some(Start {
                from: ("k2".into(), 2),
                skip: 50
            })
        );
        assert_eq!(start(&c, 3_000), None, "past the last cut");
    }
}
