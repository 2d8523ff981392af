//! Clients in and out as CSV: reading a file into rows, planning what an
//! import changes against the owner's clients, and writing the export.

use std::collections::HashMap;

use serde::Serialize;

use super::{
    Client, ClientDraft, ClientId, EmailAddress, bounded_text, parse_tags, single_line, split_tags,
};
use crate::{Error, Reason};

/// The most data rows one import may have.
pub const MAX_IMPORT_ROWS: usize = 200_000;
/// The most problems an import report lists (the rest are only counted).
const MAX_LISTED_ISSUES: usize = 1000;
/// Rows an import report shows as they would be read.
const PREVIEW_ROWS: usize = 10;
/// The longest line a file may have, in bytes (a row of the longest name,
/// comment and tags fits many times over): bounds what one record costs to
/// read, whatever its number of separators.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One problem in one row of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportIssue {
    /// The line of the file, from 1 (the header is line 1).
    pub line: u64,
    /// The column (`email`, `full_name`, `comment`, `tags`).
    pub field: &'static str,
    /// What is wrong.
    pub reason: Reason,
}

/// What an import does with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportAction {
    /// A new client.
    Create,
    /// Changes a client (one already kept, or one an earlier row creates).
    Update,
    /// Changes nothing.
    Unchanged,
    /// Has errors; not imported.
    Invalid,
}

impl ImportAction {
    /// The name used in the API and on pages (`create`, `update`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ImportAction::Create => "create",
            ImportAction::Update => "update",
            ImportAction::Unchanged => "unchanged",
            ImportAction::Invalid => "invalid",
        }
    }
}

/// A row as an import reads it, for a preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportPreviewRow {
    /// The line of the file.
    pub line: u64,
    /// The address as written.
    pub email: String,
    /// The name cell.
    pub full_name: String,
    /// The comment cell.
    pub comment: String,
    /// The tags cell, split.
    pub tags: Vec<String>,
    /// What the import does with it.
    pub action: ImportAction,
}

/// What an import did (or, on a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Clients created.
    pub created: u64,
    /// Clients already kept whose name, comment or tags changed.
    pub updated: u64,
    /// Rows not imported: with errors, or changing nothing.
    pub skipped: u64,
    /// Problems, row by row (the first [`MAX_LISTED_ISSUES`]).
    pub errors: Vec<ImportIssue>,
    /// Problems beyond those listed.
    pub more_errors: u64,
    /// The first rows as read.
    pub preview: Vec<ImportPreviewRow>,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// A data row of a CSV file: its line and its cells by column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CsvRow {
    line: u64,
    email: String,
    full_name: String,
    comment: String,
    tags: String,
}

/// A CSV file of clients, read but not yet checked against the owner's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedImport {
    rows: Vec<CsvRow>,
}

impl ParsedImport {
    /// How many data rows the file has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the file has no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The column a header cell names, by the names people use.
fn column(name: &str) -> Option<usize> {
    match name.trim().to_lowercase().replace([' ', '-'], "_").as_str() {
        "email" | "e_mail" | "email_address" | "mail" => Some(0),
        "full_name" | "name" | "fullname" => Some(1),
        "comment" | "comments" | "note" | "notes" => Some(2),
        "tags" | "tag" => Some(3),
        _ => None,
    }
}

/// Reads a CSV file of clients: UTF-8 with or without a byte-order mark, a
/// header row naming the columns (`email` required; `full_name`, `comment`,
/// `tags` optional; others ignored), comma- or semicolon-separated (whichever
/// the header uses more). Blank rows are skipped. A file that cannot be read
/// at all is refused as a whole (field `file`); bad cells are the import's
/// row problems.
pub fn parse_clients_csv(data: &[u8]) -> Result<ParsedImport, Error> {
    let unreadable = |detail: String| Error::invalid("file", Reason::CsvUnreadable { detail });
    let text = std::str::from_utf8(data).map_err(|e| {
        unreadable(format!(
            "not UTF-8 text: byte {} is not a character",
            e.valid_up_to() + 1
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some((n, _)) = text
        .split('\n')
        .enumerate()
        .find(|(_, line)| line.len() > MAX_LINE_BYTES)
    {
        return Err(unreadable(format!(
            "line {} is longer than {} KB",
            n + 1,
            MAX_LINE_BYTES / 1024
        )));
    }
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(unreadable(e.to_string())),
        None => return Err(Error::invalid("file", Reason::CsvNoEmailColumn)),
    };
    // Where each of email, full_name, comment, tags is (the first column of a name).
    let mut at: [Option<usize>; 4] = [None; 4];
    for (i, name) in header.iter().enumerate() {
        if let Some(c) = column(name) {
            at[c].get_or_insert(i);
        }
    }
    if at[0].is_none() {
        return Err(Error::invalid("file", Reason::CsvNoEmailColumn));
    }
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(|e| unreadable(e.to_string()))?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_IMPORT_ROWS {
            return Err(Error::invalid(
                "file",
                Reason::TooManyRows {
                    max: MAX_IMPORT_ROWS,
                },
            ));
        }
        let cell = |c: usize| {
            at[c]
                .and_then(|i| record.get(i))
                .map(unescape_formula)
                .unwrap_or_default()
        };
        rows.push(CsvRow {
            line: record.position().map_or(0, csv::Position::line),
            email: cell(0).trim().to_owned(),
            full_name: cell(1),
            comment: cell(2),
            tags: cell(3),
        });
    }
    Ok(ParsedImport { rows })
}

/// What an import changes: clients to create, clients to change, and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPlan {
    /// New clients.
    pub new: Vec<ClientDraft>,
    /// Existing clients with their new fields.
    pub changed: Vec<(ClientId, ClientDraft)>,
    /// The counts and problems.
    pub report: ImportReport,
}

/// Where an address of the import stands.
struct Entry {
    existing: Option<(ClientId, ClientDraft)>,
    draft: ClientDraft,
}

/// Plans an import against the owner's clients: a row for an address the
/// owner keeps updates that client (empty cells leave a field as it was; tags
/// are added); a row for a new address creates a client (a name is required);
/// later rows for one address build on earlier ones.
pub fn plan_import(file: &ParsedImport, existing: Vec<Client>) -> ImportPlan {
    let mut by_email: HashMap<String, Entry> = existing
        .into_iter()
        .map(|c| {
            let draft = ClientDraft {
                email: c.email,
                full_name: c.full_name,
                comment: c.comment,
                tags: c.tags,
            };
            let key = draft.email.as_str().to_owned();
            (
                key,
                Entry {
                    existing: Some((c.id, draft.clone())),
                    draft,
                },
            )
        })
        .collect();
    let mut report = ImportReport::default();
    let mut order: Vec<String> = Vec::new();
    for row in &file.rows {
        let mut issues = Vec::new();
        let email = EmailAddress::parse(&row.email)
            .map_err(|e| issues.push(issue(row.line, e)))
            .ok();
        let name = nonblank(&row.full_name)
            .map(|n| single_line("full_name", n, 200))
            .transpose()
            .map_err(|e| issues.push(issue(row.line, e)))
            .ok()
            .flatten();
        let comment = nonblank(&row.comment)
            .map(|c| bounded_text("comment", c.trim(), 2000, false))
            .transpose()
            .map_err(|e| issues.push(issue(row.line, e)))
            .ok()
            .flatten();
        let tags = parse_tags("tags", split_tags(&row.tags))
            .map_err(|e| issues.push(issue(row.line, e)))
            .unwrap_or_default();
        let mut action = ImportAction::Invalid;
        if let (Some(email), true) = (email, issues.is_empty()) {
            let key = email.as_str().to_owned();
            match by_email.get_mut(&key) {
                Some(entry) => {
                    let mut next = entry.draft.clone();
                    if let Some(n) = name {
                        next.full_name = n;
                    }
                    if let Some(c) = comment {
                        next.comment = c;
                    }
                    next.tags.extend(tags);
                    match parse_tags("tags", next.tags.iter().map(String::as_str)) {
                        Ok(t) => {
                            next.tags = t;
                            action = if next == entry.draft {
                                ImportAction::Unchanged
                            } else {
                                ImportAction::Update
                            };
                            entry.draft = next;
                        }
                        Err(e) => issues.push(issue(row.line, e)),
                    }
                }
                None => match name {
                    Some(full_name) => {
                        let draft = ClientDraft {
                            email,
                            full_name,
                            comment: comment.unwrap_or_default(),
                            tags,
                        };
                        order.push(key.clone());
                        by_email.insert(
                            key,
                            Entry {
                                existing: None,
                                draft,
                            },
                        );
                        action = ImportAction::Create;
                    }
                    None => issues.push(ImportIssue {
                        line: row.line,
                        field: "full_name",
                        reason: Reason::Required,
                    }),
                },
            }
        }
        if matches!(action, ImportAction::Invalid | ImportAction::Unchanged) {
            report.skipped += 1;
        }
        if report.preview.len() < PREVIEW_ROWS {
            report.preview.push(ImportPreviewRow {
                line: row.line,
                email: row.email.clone(),
                full_name: row.full_name.trim().to_owned(),
                comment: row.comment.trim().to_owned(),
                tags: split_tags(&row.tags)
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
                action,
            });
        }
        for i in issues {
            if report.errors.len() < MAX_LISTED_ISSUES {
                report.errors.push(i);
            } else {
                report.more_errors += 1;
            }
        }
    }
    let mut new = Vec::new();
    for key in order {
        if let Some(e) = by_email.remove(&key) {
            new.push(e.draft);
        }
    }
    let mut changed: Vec<(ClientId, ClientDraft)> = by_email
        .into_values()
        .filter_map(|e| {
            let (id, before) = e.existing?;
            (before != e.draft).then_some((id, e.draft))
        })
        .collect();
    changed.sort_by_key(|(id, _)| *id);
    report.created = new.len() as u64;
    report.updated = changed.len() as u64;
    ImportPlan {
        new,
        changed,
        report,
    }
}

fn issue(line: u64, e: Error) -> ImportIssue {
    match e {
        Error::Invalid { field, reason } => ImportIssue {
            line,
            field,
            reason,
        },
        other => ImportIssue {
            line,
            field: "file",
            reason: Reason::CsvUnreadable {
                detail: other.to_string(),
            },
        },
    }
}

fn nonblank(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.trim().is_empty())
}

/// Whether a cell would start a formula in a spreadsheet (or starts with the
/// `'` that defuses one, so that the import's unescaping gives it back).
fn formula_like(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r', '\''])
}

/// An exported cell: one a spreadsheet would run as a formula gets a leading
/// `'` (OWASP's advice against CSV injection); the import takes it off again.
fn escape_formula(s: &str) -> std::borrow::Cow<'_, str> {
    if formula_like(s) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn unescape_formula(s: &str) -> String {
    match s.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest.to_owned(),
        _ => s.to_owned(),
    }
}

/// The owner's clients as CSV (UTF-8, comma-separated, a header row):
/// `email,full_name,comment,tags,unsubscribed_at,created_at`, times in RFC
/// 3339 UTC. Importing the file again changes nothing.
pub fn write_clients_csv(clients: &[Client]) -> String {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(clients.len() * 96 + 64));
    let mut write = |cells: [&str; 6]| {
        // Writing to memory cannot fail.
        let _ = w.write_record(cells.map(escape_formula).iter().map(|c| c.as_bytes()));
    };
    write([
        "email",
        "full_name",
        "comment",
        "tags",
        "unsubscribed_at",
        "created_at",
    ]);
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for c in clients {
        write([
            c.email.as_str(),
            &c.full_name,
            &c.comment,
            &c.tags.join(", "),
            &c.unsubscribed_at.map(time).unwrap_or_default(),
            &time(c.created_at),
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserId;
    use chrono::TimeZone as _;

    fn client(id: i64, email: &str, name: &str, tags: &[&str]) -> Client {
        Client {
            id: ClientId(id),
            owner: UserId(1),
            email: EmailAddress::parse(email).unwrap(),
            full_name: name.into(),
            comment: String::new(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            unsubscribed_at: None,
            unsubscribe_token: "t".into(),
            created_at: chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    #[test]
    fn reads_semicolons_a_bom_quotes_and_aliases() {
        let f = parse_clients_csv(
            "\u{feff}E-mail;Name;Notes;Tags;Extra\n\"a@x.org\";\"Ann; the first\";hi;VIP, Berlin;z\n\n;;;;\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(f.len(), 1);
        let plan = plan_import(&f, vec![]);
        assert_eq!(plan.report.created, 1);
        let d = &plan.new[0];
        assert_eq!(d.full_name, "Ann; the first");
        assert_eq!(d.comment, "hi");
        assert_eq!(d.tags, vec!["berlin", "vip"]);
        assert_eq!(plan.report.preview[0].line, 2);
    }

    #[test]
    fn refuses_files_it_cannot_read_as_a_whole() {
        for (data, code) in [
            (&b"name,comment\nAnn,x\n"[..], "csv_no_email_column"),
            (&b""[..], "csv_no_email_column"),
            (&b"email\n\xff\xfe\n"[..], "csv_unreadable"),
        ] {
            match parse_clients_csv(data) {
                Err(Error::Invalid { field, reason }) => {
                    assert_eq!((field, reason.code()), ("file", code));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn updates_keep_what_empty_cells_leave_and_add_tags() {
        let f = parse_clients_csv(
            b"email,full_name,comment,tags\n\
              A@x.org,,new note,b\n\
              b@x.org,Bob,,\n\
              c@x.org,,,\n\
              bad,Bad,,\n\
              d@x.org,Dee,,a|b\n\
              e@x.org,Eve,,\n\
              e@x.org,,late,x\n",
        )
        .unwrap();
        let plan = plan_import(
            &f,
            vec![
                client(1, "a@x.org", "Ann", &["a"]),
                client(2, "b@x.org", "Bob", &[]),
            ],
        );
        let r = &plan.report;
        assert_eq!((r.created, r.updated, r.skipped), (1, 1, 4), "{r:?}");
        let lines: Vec<(u64, &str, &str)> = r
            .errors
            .iter()
            .map(|i| (i.line, i.field, i.reason.code()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (4, "full_name", "required"),
                (5, "email", "invalid_email"),
                (6, "tags", "bad_tag")
            ]
        );
        let (id, a) = &plan.changed[0];
        assert_eq!(*id, ClientId(1));
        assert_eq!(
            (a.full_name.as_str(), a.comment.as_str()),
            ("Ann", "new note")
        );
        assert_eq!(a.tags, vec!["a", "b"]);
        // The second row for a new address builds on the first.
        assert_eq!(plan.new.len(), 1);
        assert_eq!(plan.new[0].comment, "late");
        assert_eq!(plan.new[0].tags, vec!["x"]);
    }

    #[test]
    fn an_export_imports_back_unchanged_and_defuses_formulas() {
        let mut c = client(1, "a@x.org", "=HYPERLINK(\"http://evil\")", &["b", "vip"]);
        c.comment = "line one\nline \"two\"".into();
        let out = write_clients_csv(std::slice::from_ref(&c));
        assert!(out.contains("\"'=HYPERLINK"), "{out}");
        let plan = plan_import(&parse_clients_csv(out.as_bytes()).unwrap(), vec![c]);
        assert_eq!(
            (
                plan.report.created,
                plan.report.updated,
                plan.report.skipped
            ),
            (0, 0, 1)
        );
    }

    #[test]
    fn a_leading_quote_survives_the_round_trip() {
        let mut c = client(1, "a@x.org", "'-) smile", &[]);
        c.comment = "'=not a formula".into();
        let out = write_clients_csv(std::slice::from_ref(&c));
        let plan = plan_import(&parse_clients_csv(out.as_bytes()).unwrap(), vec![c]);
        assert_eq!((plan.report.updated, plan.report.skipped), (0, 1), "{out}");
    }

    #[test]
    fn a_line_of_millions_of_separators_is_refused_before_it_is_read() {
        let mut data = String::from("email");
        data.push_str(&",".repeat(MAX_LINE_BYTES));
        data.push_str("\na@x.org\n");
        match parse_clients_csv(data.as_bytes()) {
            Err(Error::Invalid {
                field: "file",
                reason: Reason::CsvUnreadable { detail },
            }) => {
                assert!(detail.contains("line 1"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn too_many_rows_are_refused() {
        let mut data = String::from("email\n");
        for i in 0..=MAX_IMPORT_ROWS {
            data.push_str(&format!("u{i}@x.org\n"));
        }
        assert!(matches!(
            parse_clients_csv(data.as_bytes()),
            Err(Error::Invalid {
                reason: Reason::TooManyRows { .. },
                ..
            })
        ));
    }
}
