//! Conformance cases: Clients, their ownership and their unsubscribe links.

use super::*;

/// Another owner's client is not found, not updated, not deleted.
pub async fn clients_are_scoped_to_their_owner(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let c = client(&s, ann.id, "x@example.com").await;
    assert_eq!(s.client(ann.id, c.id).await.unwrap().unwrap(), c);
    assert_eq!(s.client(bob.id, c.id).await.unwrap(), None);
    let d = ClientDraft::parse("y@example.com", "Y", "").unwrap();
    assert_eq!(
        s.update_client(bob.id, c.id, &d, "new-token")
            .await
            .unwrap(),
        None
    );
    assert!(!s.delete_client(bob.id, c.id).await.unwrap());
    assert_eq!(s.list_clients(bob.id, &all()).await.unwrap().total, 0);
    let updated = s
        .update_client(ann.id, c.id, &d, "new-token")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (updated.email.as_str(), updated.full_name.as_str()),
        ("y@example.com", "Y")
    );
    assert!(s.delete_client(ann.id, c.id).await.unwrap());
    assert_eq!(s.client(ann.id, c.id).await.unwrap(), None);
}

/// One owner cannot have two clients with one address; two owners can.
pub async fn client_email_is_unique_per_owner(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let c1 = client(&s, ann.id, "x@example.com").await;
    let c2 = client(&s, ann.id, "z@example.com").await;
    client(&s, bob.id, "x@example.com").await;
    let d = ClientDraft::parse("X@EXAMPLE.com", "X", "").unwrap();
    let dup = s.create_client(ann.id, &d, "tok-dup", t0()).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Conflict(StoreConflict::ClientEmailTaken))
        ),
        "{dup:?}"
    );
    let clash = s.update_client(ann.id, c2.id, &d, "new-token").await;
    assert!(
        matches!(
            clash,
            Err(StoreError::Conflict(StoreConflict::ClientEmailTaken))
        ),
        "{clash:?}"
    );
    // Saving a client with its own address is no clash.
    assert!(
        s.update_client(ann.id, c1.id, &d, "new-token")
            .await
            .unwrap()
            .is_some()
    );
}

/// Clients list by name, a page at a time, filtered by email, name or comment.
pub async fn clients_list_paginates_and_searches(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    for (email, name, comment) in [
        ("d@x.com", "Dora", ""),
        ("a@x.com", "alice", "VIP"),
        ("c@x.com", "Carl", ""),
        ("b@y.com", "Bea", ""),
    ] {
        let d = ClientDraft::parse(email, name, comment).unwrap();
        s.create_client(ann.id, &d, &format!("t-{email}"), t0())
            .await
            .unwrap();
    }
    let p = s.list_clients(ann.id, &q(1, 3, None)).await.unwrap();
    let names: Vec<_> = p.items.iter().map(|c| c.full_name.as_str()).collect();
    assert_eq!((p.total, names), (4, vec!["alice", "Bea", "Carl"]));
    let p2 = s.list_clients(ann.id, &q(2, 3, None)).await.unwrap();
    assert_eq!(p2.items.len(), 1);
    assert_eq!(
        s.list_clients(ann.id, &q(1, 10, Some("y.com")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_clients(ann.id, &q(1, 10, Some("vip")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        s.list_clients(ann.id, &q(1, 10, Some("DORA")))
            .await
            .unwrap()
            .total,
        1
    );
}

/// A link stands for its (owner, address); unsubscribing marks the client,
/// resubscribing clears the mark.
pub async fn unsubscribe_links_set_and_clear_the_mark(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let c = client(&s, ann.id, "x@example.com").await;
    let found = s
        .unsubscribe_link(&c.unsubscribe_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.owner, found.email.clone(), found.unsubscribed_at),
        (ann.id, c.email.clone(), None)
    );
    let u = s
        .set_unsubscribed(&c.unsubscribe_token, Some(t0()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.unsubscribed_at, Some(t0()));
    assert_eq!(
        s.client(ann.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        Some(t0())
    );
    let back = s
        .set_unsubscribed(&c.unsubscribe_token, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.unsubscribed_at, None);
    assert_eq!(
        s.client(ann.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        None
    );
    assert_eq!(s.unsubscribe_link("nope").await.unwrap(), None);
    assert_eq!(s.set_unsubscribed("nope", Some(t0())).await.unwrap(), None);
}

/// An unsubscribe belongs to the address, not to the client row: deleting
/// and re-creating the client, or adding the address under another name,
/// finds it unsubscribed, and its next run records it as suppressed.
pub async fn an_unsubscribe_outlives_the_client(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let c = client(&s, ann.id, "x@example.com").await;
    s.set_unsubscribed(&c.unsubscribe_token, Some(t0()))
        .await
        .unwrap();
    assert!(s.delete_client(ann.id, c.id).await.unwrap());
    let again = client(&s, ann.id, "x@example.com").await;
    assert_eq!(
        again.unsubscribed_at,
        Some(t0()),
        "re-created, still unsubscribed"
    );
    // The old link still speaks for the address.
    let link = s
        .unsubscribe_link(&c.unsubscribe_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.unsubscribed_at, Some(t0()));
    // Another owner's list is another list.
    let bobs = client(&s, bob.id, "x@example.com").await;
    assert_eq!(bobs.unsubscribed_at, None);
    let msg = message(&s, ann.id).await;
    let other = client(&s, ann.id, "y@example.com").await;
    let m = mailing(&s, ann.id, msg.id, &[again.id, other.id]).await;
    let run = start_run(&s, &m).await;
    assert_eq!(
        run.recipients, 2,
        "the suppressed address is recorded, not dropped"
    );
    let states = states(&s, run.id).await;
    assert_eq!(
        (
            states.get(&DeliveryState::Suppressed),
            states.get(&DeliveryState::Pending)
        ),
        (Some(&1), Some(&1))
    );
    let t = s.run_totals(run.id).await.unwrap();
    assert_eq!((t.total, t.suppressed, t.pending), (2, 1, 1));
    // Resubscribing from the old link frees the address again.
    s.set_unsubscribed(&c.unsubscribe_token, None)
        .await
        .unwrap();
    assert_eq!(
        s.client(ann.id, again.id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        None
    );
}

/// A client whose email changes gets a new link; the links sent before keep
/// the address they were sent to, so the new address's recipient is not
/// unsubscribed (or resubscribed) through the old one.
pub async fn a_changed_email_gets_a_new_link_and_old_links_keep_their_address(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let c = client(&s, ann.id, "old@example.com").await;
    let d = ClientDraft::parse("victim@example.com", "V", "").unwrap();
    let moved = s
        .update_client(ann.id, c.id, &d, "new-token")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.unsubscribe_token, "new-token");
    let new = s.unsubscribe_link("new-token").await.unwrap().unwrap();
    assert_eq!(new.email.as_str(), "victim@example.com");
    let old = s
        .unsubscribe_link(&c.unsubscribe_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.email.as_str(), "old@example.com");
    // The victim unsubscribes; the old link cannot undo it.
    s.set_unsubscribed("new-token", Some(t0())).await.unwrap();
    s.set_unsubscribed(&c.unsubscribe_token, None)
        .await
        .unwrap();
    assert_eq!(
        s.client(ann.id, c.id)
            .await
            .unwrap()
            .unwrap()
            .unsubscribed_at,
        Some(t0())
    );
    // A name-only edit keeps the link.
    let d = ClientDraft::parse("victim@example.com", "Victim", "").unwrap();
    let renamed = s
        .update_client(ann.id, c.id, &d, "unused")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.unsubscribe_token, "new-token");
}

/// Deleting a client removes it from mailings but not from runs already started.
pub async fn deleting_a_client_keeps_frozen_deliveries(s: S) {
    let (u, m, run) = run_with(&s, "ann@example.com", 2).await;
    let gone = m.client_ids[0];
    assert!(s.delete_client(u.id, gone).await.unwrap());
    assert_eq!(
        s.mailing(m.id).await.unwrap().unwrap().client_ids,
        vec![m.client_ids[1]]
    );
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    assert_eq!(ds.len(), 2);
    assert_eq!(ds.iter().filter(|d| d.client_id.is_none()).count(), 1);
    assert_eq!(
        s.claim_deliveries(t0(), LEASE, 10).await.unwrap().len(),
        2,
        "still sent"
    );
}

/// Following an unsubscribe link stops that recipient's pending deliveries at once.
pub async fn unsubscribing_cancels_the_clients_pending_deliveries(s: S) {
    let (u, m, run) = run_with(&s, "ann@example.com", 2).await;
    let c = s.client(u.id, m.client_ids[0]).await.unwrap().unwrap();
    s.set_unsubscribed(&c.unsubscribe_token, Some(t0()))
        .await
        .unwrap();
    let ds = s.run_deliveries(run.id, &all()).await.unwrap().items;
    let mine = ds.iter().find(|d| d.client_id == Some(c.id)).unwrap();
    assert_eq!(mine.state, DeliveryState::Cancelled);
    assert_eq!(
        ds.iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .count(),
        1
    );
}

/// Updating another owner's client is "not found", whatever its email clashes with.
pub async fn another_owners_client_is_not_found_even_on_an_email_clash(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let anns = client(&s, ann.id, "x@example.com").await;
    client(&s, bob.id, "y@example.com").await;
    let d = ClientDraft::parse("y@example.com", "Y", "").unwrap();
    assert_eq!(
        s.update_client(bob.id, anns.id, &d, "new-token")
            .await
            .unwrap(),
        None
    );
}

async fn tagged(s: &S, owner: UserId, email: &str, name: &str, tags: &[&str]) -> Client {
    let d = ClientDraft::parse(email, name, "")
        .unwrap()
        .with_tags(tags.iter().copied())
        .unwrap();
    s.create_client(owner, &d, &crate::security::new_token(), t0())
        .await
        .unwrap()
}

/// Lists sort by name in natural order ("Client 2" before "Client 10",
/// case aside); a search finds tags too; a tag filter, the ids matching a
/// filter and the tag counts stay inside the owner's list.
pub async fn clients_sort_naturally_and_filter_by_search_and_tag(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let c10 = tagged(
        &s,
        ann.id,
        "c10@example.com",
        "Client 10",
        &["VIP", "berlin"],
    )
    .await;
    let c2 = tagged(&s, ann.id, "c2@example.com", "client 2", &["vip"]).await;
    let c1 = tagged(&s, ann.id, "c1@example.com", "Client 1", &[]).await;
    let zed = tagged(&s, ann.id, "z@example.com", "Zed", &["berlin"]).await;
    tagged(&s, bob.id, "b@example.com", "Bob's", &["vip"]).await;
    assert_eq!(c10.tags, vec!["berlin", "vip"]);
    let names = |p: Page<Client>| p.items.into_iter().map(|c| c.full_name).collect::<Vec<_>>();
    assert_eq!(
        names(s.list_clients(ann.id, &all()).await.unwrap()),
        vec!["Client 1", "client 2", "Client 10", "Zed"]
    );
    let vip = all().with_tag(Some("Vip")).unwrap();
    let page = s.list_clients(ann.id, &vip).await.unwrap();
    assert_eq!(
        (page.total, names(page)),
        (2, vec!["client 2".to_owned(), "Client 10".to_owned()])
    );
    let found = s
        .list_clients(ann.id, &q(1, 10, Some("berl")))
        .await
        .unwrap();
    assert_eq!(found.total, 2, "a search matches tags");
    let across = s
        .list_clients(ann.id, &q(1, 10, Some("n|v")))
        .await
        .unwrap();
    assert_eq!(
        across.total, 0,
        "a search matches within one tag, not across two"
    );
    let f = ClientFilter::new(Some("client"), Some("vip")).unwrap();
    let mut want = vec![c2.id, c10.id];
    want.sort();
    assert_eq!(s.matching_client_ids(ann.id, &f).await.unwrap(), want);
    let everyone = s
        .matching_client_ids(ann.id, &ClientFilter::default())
        .await
        .unwrap();
    assert_eq!(everyone.len(), 4);
    assert!(everyone.contains(&c1.id) && everyone.contains(&zed.id));
    assert_eq!(
        s.client_tags(ann.id).await.unwrap(),
        vec![("berlin".to_owned(), 2), ("vip".to_owned(), 2)]
    );
    let all_of_ann: Vec<ClientId> = s
        .all_clients(ann.id)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(all_of_ann, vec![c1.id, c2.id, c10.id, zed.id]);
    // An update replaces the tags and moves the client in the order.
    let d = ClientDraft::parse("c1@example.com", "Client 20", "")
        .unwrap()
        .with_tags(["new"])
        .unwrap();
    let c1 = s
        .update_client(ann.id, c1.id, &d, "tok-c1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c1.tags, vec!["new"]);
    assert_eq!(
        names(s.list_clients(ann.id, &all()).await.unwrap()),
        vec!["client 2", "Client 10", "Client 20", "Zed"]
    );
}

/// An import creates and changes clients in one transaction: a new address
/// the owner has unsubscribed stays marked and its link works; a new address
/// that exists meanwhile fails the whole import.
pub async fn imports_create_and_change_clients_at_once(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let old = client(&s, ann.id, "old@example.com").await;
    let gone = client(&s, ann.id, "gone@example.com").await;
    s.set_unsubscribed(&gone.unsubscribe_token, Some(t0()))
        .await
        .unwrap();
    assert!(s.delete_client(ann.id, gone.id).await.unwrap());
    let new = |email: &str, name: &str, tags: &[&str]| {
        let d = ClientDraft::parse(email, name, "hi")
            .unwrap()
            .with_tags(tags.iter().copied())
            .unwrap();
        (d, crate::security::new_token())
    };
    let changed = ClientDraft::parse("old@example.com", "Old 2", "note")
        .unwrap()
        .with_tags(["x"])
        .unwrap();
    let rows = vec![
        new("n1@example.com", "N 1", &["a"]),
        new("gone@example.com", "Back", &[]),
    ];
    s.import_clients(ann.id, &rows, &[(old.id, changed)], t0() + Span::seconds(1))
        .await
        .unwrap();
    let all_of_ann = s.all_clients(ann.id).await.unwrap();
    let by = |e: &str| {
        all_of_ann
            .iter()
            .find(|c| c.email.as_str() == e)
            .unwrap()
            .clone()
    };
    assert_eq!(all_of_ann.len(), 3);
    let o = by("old@example.com");
    assert_eq!(
        (o.full_name.as_str(), o.comment.as_str(), o.tags.clone()),
        ("Old 2", "note", vec!["x".to_owned()])
    );
    assert_eq!(
        o.unsubscribe_token, old.unsubscribe_token,
        "an update keeps the link"
    );
    let n1 = by("n1@example.com");
    assert_eq!(
        (n1.tags.clone(), n1.created_at, n1.unsubscribed_at),
        (vec!["a".to_owned()], t0() + Span::seconds(1), None)
    );
    assert_eq!(
        s.unsubscribe_link(&n1.unsubscribe_token)
            .await
            .unwrap()
            .unwrap()
            .email,
        n1.email
    );
    assert_eq!(by("gone@example.com").unsubscribed_at, Some(t0()));
    // All or nothing.
    let clash = vec![
        new("n2@example.com", "N 2", &[]),
        new("n1@example.com", "Again", &[]),
    ];
    let r = s.import_clients(ann.id, &clash, &[], t0()).await;
    assert!(
        matches!(
            r,
            Err(StoreError::Conflict(StoreConflict::ClientEmailTaken))
        ),
        "{r:?}"
    );
    assert_eq!(s.all_clients(ann.id).await.unwrap().len(), 3);
}

/// A list's total is right after creates, an import and deletes, for each
/// owner apart (stores may keep the count rather than count every time).
pub async fn list_totals_follow_creates_imports_and_deletes(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let total = |owner: UserId| {
        let s = s.clone();
        async move {
            let all = s
                .list_clients(owner, &ListQuery::new(1, 10, None).unwrap())
                .await
                .unwrap()
                .total;
            // The same through a filter that matches everyone (counted).
            let counted = s
                .list_clients(owner, &ListQuery::new(1, 10, Some("@")).unwrap())
                .await
                .unwrap()
                .total;
            assert_eq!(all, counted, "kept and counted totals differ");
            all
        }
    };
    assert_eq!(total(ann.id).await, 0);
    let a = client(&s, ann.id, "a@example.com").await;
    client(&s, ann.id, "b@example.com").await;
    client(&s, bob.id, "c@example.com").await;
    assert_eq!((total(ann.id).await, total(bob.id).await), (2, 1));
    let rows: Vec<_> = (0..25)
        .map(|i| {
            (
                ClientDraft::parse(&format!("i{i}@example.com"), "I", "").unwrap(),
                crate::security::new_token(),
            )
        })
        .collect();
    s.import_clients(ann.id, &rows, &[], t0()).await.unwrap();
    assert_eq!((total(ann.id).await, total(bob.id).await), (27, 1));
    assert!(s.delete_client(ann.id, a.id).await.unwrap());
    assert!(!s.delete_client(ann.id, a.id).await.unwrap());
    // A refused duplicate counts nothing.
    let dup = ClientDraft::parse("b@example.com", "B", "").unwrap();
    assert!(
        s.create_client(ann.id, &dup, "dup-token", t0())
            .await
            .is_err()
    );
    assert_eq!((total(ann.id).await, total(bob.id).await), (26, 1));
}

/// The tag list's counts are right after creates, edits, an import and
/// deletes (stores may keep them rather than count every client).
pub async fn tag_counts_follow_every_change(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let recount = |owner: UserId| {
        let s = s.clone();
        async move {
            let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
            for c in s.all_clients(owner).await.unwrap() {
                for t in c.tags {
                    *counts.entry(t).or_default() += 1;
                }
            }
            let kept = s.client_tags(owner).await.unwrap();
            assert_eq!(
                kept,
                counts.into_iter().collect::<Vec<_>>(),
                "kept tag counts"
            );
            kept
        }
    };
    let tagged = |email: &str, tags: &[&str]| {
        ClientDraft::parse(email, "N", "")
            .unwrap()
            .with_tags(tags.iter().copied())
            .unwrap()
    };
    let a = s
        .create_client(
            ann.id,
            &tagged("a@example.com", &["vip", "berlin"]),
            "ta",
            t0(),
        )
        .await
        .unwrap();
    let b = s
        .create_client(ann.id, &tagged("b@example.com", &["vip"]), "tb", t0())
        .await
        .unwrap();
    s.create_client(bob.id, &tagged("c@example.com", &["vip"]), "tc", t0())
        .await
        .unwrap();
    s.create_client(ann.id, &tagged("d@example.com", &[]), "td", t0())
        .await
        .unwrap();
    assert_eq!(
        recount(ann.id).await,
        vec![("berlin".to_owned(), 1), ("vip".to_owned(), 2)]
    );
    // An edit moves a client from one set to another.
    s.update_client(ann.id, a.id, &tagged("a@example.com", &["paris"]), "ta2")
        .await
        .unwrap();
    recount(ann.id).await;
    // An import adds and changes.
    let rows = vec![(tagged("e@example.com", &["vip", "paris"]), "te".to_owned())];
    s.import_clients(ann.id, &rows, &[(b.id, tagged("b@example.com", &[]))], t0())
        .await
        .unwrap();
    recount(ann.id).await;
    assert!(s.delete_client(ann.id, a.id).await.unwrap());
    assert_eq!(
        recount(ann.id).await,
        vec![("paris".to_owned(), 1), ("vip".to_owned(), 1)]
    );
    assert_eq!(recount(bob.id).await, vec![("vip".to_owned(), 1)]);
    // The longest tags there are: twenty of fifty wide characters.
    let wide: Vec<String> = (0..20)
        .map(|i| format!("{}{i:02}", "界".repeat(48)))
        .collect();
    let big = ClientDraft::parse("wide@example.com", "W", "")
        .unwrap()
        .with_tags(wide.iter().map(String::as_str))
        .unwrap();
    let w = s.create_client(bob.id, &big, "tw", t0()).await.unwrap();
    assert_eq!(w.tags.len(), 20);
    recount(bob.id).await;
    assert!(s.delete_client(bob.id, w.id).await.unwrap());
    assert_eq!(recount(bob.id).await, vec![("vip".to_owned(), 1)]);
}

/// The names a search's first page lists (all of its matches: fewer than 50).
async fn found(s: &S, owner: UserId, search: &str) -> Vec<String> {
    let p = s
        .list_clients(owner, &q(1, 50, Some(search)))
        .await
        .unwrap();
    assert_eq!(p.total, p.items.len() as u64, "{search}");
    p.items.into_iter().map(|c| c.full_name).collect()
}

/// Every page of a list, of its tag and of a search holds exactly the rows
/// the whole list has there (pages past the middle are read from the end);
/// a search finds names, comments, addresses and tags whatever their case,
/// short or long, quotes and wildcards taken literally, and follows edits,
/// imports and deletes.
pub async fn every_page_and_search_follows_the_whole_list(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let bob = user(&s, "bob@example.com", Role::User).await;
    let mut new = Vec::new();
    for i in 1..=23 {
        let tags: &[&str] = if i % 3 == 0 {
            &["vip"]
        } else if i % 3 == 1 {
            &["vip", "berlin"]
        } else {
            &[]
        };
        let comment = if i == 7 {
            "Says \"Hi\" 50% of_the time"
        } else {
            ""
        };
        let d = ClientDraft::parse(
            &format!("c{i}@example.com"),
            &format!("Client {i}"),
            comment,
        )
        .unwrap()
        .with_tags(tags.iter().copied())
        .unwrap();
        new.push((d, crate::security::new_token()));
    }
    s.import_clients(ann.id, &new, &[], t0()).await.unwrap();
    tagged(&s, bob.id, "c1@example.com", "Client 1", &["vip"]).await;
    let everyone = s.all_clients(ann.id).await.unwrap();
    let ids = |p: &Page<Client>| p.items.iter().map(|c| c.id).collect::<Vec<_>>();
    let want = |f: &dyn Fn(&Client) -> bool| {
        everyone
            .iter()
            .filter(|c| f(c))
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    for (tag, expected) in [
        (None, want(&|_| true)),
        (Some("vip"), want(&|c| c.tags.iter().any(|t| t == "vip"))),
        (
            Some("berlin"),
            want(&|c| c.tags.iter().any(|t| t == "berlin")),
        ),
    ] {
        for per_page in [1, 4, 5, 23, 50] {
            let mut seen = Vec::new();
            for page in 1..=(expected.len() as u32).div_ceil(per_page) + 1 {
                let query = q(page, per_page, None).with_tag(tag).unwrap();
                let p = s.list_clients(ann.id, &query).await.unwrap();
                assert_eq!(p.total, expected.len() as u64, "{tag:?} total");
                seen.extend(ids(&p));
            }
            assert_eq!(seen, expected, "{tag:?}, {per_page} a page");
        }
    }
    let found = |search: &'static str| found(&s, ann.id, search);
    assert_eq!(
        found("CLIENT 2").await,
        vec![
            "Client 2",
            "Client 20",
            "Client 21",
            "Client 22",
            "Client 23"
        ]
    );
    assert_eq!(found("c13@").await, vec!["Client 13"]);
    assert_eq!(found("t 7").await, vec!["Client 7"]);
    assert_eq!(found("ber").await.len(), 8, "tags are searched");
    assert_eq!(
        found("\"hi\"").await,
        vec!["Client 7"],
        "quotes are literal"
    );
    assert_eq!(found("50%").await, vec!["Client 7"]);
    assert_eq!(found("of_the").await, vec!["Client 7"]);
    assert_eq!(found("0%").await, vec!["Client 7"], "short searches too");
    assert_eq!(found("f_t").await, vec!["Client 7"]);
    assert_eq!(
        found("5o%").await,
        Vec::<String>::new(),
        "wildcards are literal"
    );
    assert_eq!(found("xyz").await, Vec::<String>::new());
    assert_eq!(
        found("|vip|").await,
        Vec::<String>::new(),
        "the stored separators are not searched"
    );
    // Searches within a tag; a search's pages.
    let vip = q(1, 50, Some("client 1")).with_tag(Some("berlin")).unwrap();
    let p = s.list_clients(ann.id, &vip).await.unwrap();
    assert_eq!(
        p.items
            .iter()
            .map(|c| c.full_name.as_str())
            .collect::<Vec<_>>(),
        [
            "Client 1",
            "Client 10",
            "Client 13",
            "Client 16",
            "Client 19"
        ]
    );
    let second = s
        .list_clients(ann.id, &q(2, 3, Some("client 1")))
        .await
        .unwrap();
    assert_eq!(
        (
            second.total,
            second
                .items
                .iter()
                .map(|c| c.full_name.as_str())
                .collect::<Vec<_>>()
        ),
        (11, vec!["Client 12", "Client 13", "Client 14"])
    );
    // Edits, deletes and imports are searched at once.
    let c5 = everyone.iter().find(|c| c.full_name == "Client 5").unwrap();
    let d = ClientDraft::parse("renamed@example.com", "Zoë Quux", "").unwrap();
    s.update_client(ann.id, c5.id, &d, "t-renamed")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found("client 5").await, Vec::<String>::new());
    assert_eq!(found("quux").await, vec!["Zoë Quux"]);
    assert_eq!(found("renamed@").await, vec!["Zoë Quux"]);
    assert!(s.delete_client(ann.id, c5.id).await.unwrap());
    assert_eq!(found("quux").await, Vec::<String>::new());
    let c8 = everyone.iter().find(|c| c.full_name == "Client 8").unwrap();
    let changed = ClientDraft::parse("c8@example.com", "Client 8", "Quux too")
        .unwrap()
        .with_tags(["newtag"])
        .unwrap();
    s.import_clients(ann.id, &[], &[(c8.id, changed)], t0())
        .await
        .unwrap();
    assert_eq!(found("quux").await, vec!["Client 8"]);
    assert_eq!(found("newt").await, vec!["Client 8"]);
    let newtag = s
        .list_clients(ann.id, &all().with_tag(Some("newtag")).unwrap())
        .await
        .unwrap();
    assert_eq!((newtag.total, ids(&newtag)), (1, vec![c8.id]));
    // Another owner's clients are never found.
    assert_eq!(
        s.list_clients(bob.id, &q(1, 50, Some("client")))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(found("client").await.len(), 22);
}

/// Deep pages of a long list (past a thousand rows, where the stores start
/// from remembered positions) hold exactly the whole list's rows there, and
/// keep doing so after clients are added, renamed, deleted and imported;
/// searches of a list this long (through the stores' search indexes) find
/// what the fields hold, and follow renames.
pub async fn deep_pages_follow_every_change(s: S) {
    let ann = user(&s, "ann@example.com", Role::User).await;
    let new: Vec<_> = (1..=2_345)
        .map(|i| {
            let d = ClientDraft::parse(&format!("c{i}@example.com"), &format!("Client {i}"), "")
                .unwrap();
            (d, crate::security::new_token())
        })
        .collect();
    s.import_clients(ann.id, &new, &[], t0()).await.unwrap();
    let check = |what: &'static str| {
        let s = &s;
        async move {
            let everyone: Vec<ClientId> = s
                .all_clients(ann.id)
                .await
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect();
            for per_page in [200u32, 7] {
                for page in [1, 5, 6, 7, 8, 11, 12, 143, 144, 150, 200, 335, 336] {
                    let p = s
                        .list_clients(ann.id, &q(page, per_page, None))
                        .await
                        .unwrap();
                    let from = ((page - 1) * per_page) as usize;
                    let want: Vec<ClientId> = everyone
                        .iter()
                        .skip(from)
                        .take(per_page as usize)
                        .copied()
                        .collect();
                    assert_eq!(p.total, everyone.len() as u64, "{what}");
                    assert_eq!(
                        p.items.iter().map(|c| c.id).collect::<Vec<_>>(),
                        want,
                        "{what}: page {page} of {per_page}"
                    );
                }
            }
            everyone
        }
    };
    let everyone = check("imported").await;
    // Renamed from the end of the list to its start, and back.
    let last = *everyone.last().unwrap();
    // Searches in a list this long go through the stores' trigram indexes.
    let found = |search: &'static str| found(&s, ann.id, search);
    assert_eq!(found("CLIENT 1234").await, vec!["Client 1234"]);
    assert_eq!(found("c2001@").await, vec!["Client 2001"]);
    assert_eq!(found("t 99").await.len(), 11, "Client 99, 990-999");
    assert_eq!(found("nobody").await, Vec::<String>::new());
    let d =
        ClientDraft::parse("c2345@example.com", "Aaron", "Says \"Hi\" 50% of_the time").unwrap();
    s.update_client(ann.id, last, &d, "t-aaron")
        .await
        .unwrap()
        .unwrap();
    check("renamed to the start").await;
    assert_eq!(found("aaron").await, vec!["Aaron"]);
    assert_eq!(found("client 2345").await, Vec::<String>::new());
    assert_eq!(
        found("\"hi\" 50%").await,
        vec!["Aaron"],
        "quotes and wildcards are literal"
    );
    assert_eq!(found("of_the").await, vec!["Aaron"]);
    assert_eq!(found("5o%").await, Vec::<String>::new());
    let d = ClientDraft::parse("c2345@example.com", "Zed", "").unwrap();
    s.update_client(ann.id, last, &d, "t-zed")
        .await
        .unwrap()
        .unwrap();
    check("renamed to the end").await;
    assert!(s.delete_client(ann.id, everyone[10]).await.unwrap());
    check("a client before the deep pages deleted").await;
    let d = ClientDraft::parse("new@example.com", "Client 0", "").unwrap();
    s.create_client(ann.id, &d, "t-new", t0()).await.unwrap();
    check("a client added at the start").await;
    let renamed = ClientDraft::parse("c1500@example.com", "Aardvark", "").unwrap();
    let more = vec![(
        ClientDraft::parse("more@example.com", "Client 1", "").unwrap(),
        crate::security::new_token(),
    )];
    let c1500 = s
        .all_clients(ann.id)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.full_name == "Client 1500")
        .unwrap();
    s.import_clients(ann.id, &more, &[(c1500.id, renamed)], t0())
        .await
        .unwrap();
    check("an import that adds and renames").await;
}
