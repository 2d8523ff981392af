//! The report of a finished run, kept as data (counts, the most common failure
//! replies, skipped slots) and rendered as sentences: in English by `Display`,
//! in any other language from [`RunReport::lines`].

use serde::{Deserialize, Serialize};

use super::RunTotals;

/// Failure replies listed in a report at most.
const TOP_FAILURES: usize = 5;

/// One kind of failure reply and how many deliveries got it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCount {
    /// The reply's first line, addresses replaced with `<address>`.
    pub reply: String,
    /// Deliveries that failed with it.
    pub count: u64,
}

/// The report of a finished run. Reports are public to every signed-in user,
/// so addresses in failure replies are replaced with `<address>` (see
/// [`redact_addresses`]).
///
/// ```
/// use skymailing_core::{RunReport, RunTotals};
/// let t = RunTotals { total: 100, sent: 98, failed: 2,
///     failures: vec![("550 5.1.1 <bob@example.com> user unknown".into(), 2)], ..Default::default() };
/// let report = RunReport::new(&t, 0);
/// assert_eq!(report.to_string(), "Sent 98 of 100; 2 failed: 550 5.1.1 <address> user unknown ×2");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// Recipients.
    pub total: u64,
    /// Accepted by the relay.
    pub sent: u64,
    /// Given up.
    pub failed: u64,
    /// Stopped before they were sent.
    pub cancelled: u64,
    /// Not sent: suppressed for the owner.
    #[serde(default)]
    pub suppressed: u64,
    /// Sent, then bounced.
    #[serde(default)]
    pub bounced: u64,
    /// Sent, then reported as spam.
    #[serde(default)]
    pub complained: u64,
    /// Earlier slots coalesced into this run.
    pub skipped_slots: u32,
    /// The most common failure replies, most common first.
    pub failures: Vec<FailureCount>,
    /// Whether there were more kinds of failure than those listed.
    #[serde(default)]
    pub more_failures: bool,
}

/// One sentence of a report, as a code with parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportLine {
    /// The run had no recipients at all.
    NoRecipients,
    /// `sent` of `total` were sent.
    Sent {
        /// Sent.
        sent: u64,
        /// Recipients.
        total: u64,
    },
    /// `failed` failed, with the most common replies.
    Failed {
        /// Failed.
        failed: u64,
    },
    /// `cancelled` were cancelled.
    Cancelled {
        /// Cancelled.
        cancelled: u64,
    },
    /// `suppressed` were not sent: their addresses are suppressed.
    Suppressed {
        /// Suppressed.
        suppressed: u64,
    },
    /// `bounced` bounced after they were sent.
    Bounced {
        /// Bounced.
        bounced: u64,
    },
    /// `complained` were reported as spam by their recipients.
    Complained {
        /// Complained.
        complained: u64,
    },
    /// `skipped` missed slots were coalesced into this run.
    SkippedSlots {
        /// Skipped slots.
        skipped: u32,
    },
}

impl RunReport {
    /// The report of a run with these final totals.
    pub fn new(t: &RunTotals, skipped_slots: u32) -> RunReport {
        // Redacting can make two replies one: count them together.
        let mut failures: Vec<FailureCount> = Vec::new();
        for (reply, n) in &t.failures {
            let reply = one_line(reply);
            match failures.iter_mut().find(|f| f.reply == reply) {
                Some(f) => f.count += n,
                None => failures.push(FailureCount { reply, count: *n }),
            }
        }
        failures.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reply.cmp(&b.reply)));
        let more_failures = failures.len() > TOP_FAILURES;
        failures.truncate(TOP_FAILURES);
        RunReport {
            total: t.total,
            sent: t.sent,
            failed: t.failed,
            cancelled: t.cancelled,
            suppressed: t.suppressed,
            bounced: t.bounced,
            complained: t.complained,
            skipped_slots,
            failures,
            more_failures,
        }
    }

    /// The report with a run's counts as they are now (bounces and
    /// complaints that arrived after it finished move them).
    pub fn with_counts(mut self, run: &super::Run) -> RunReport {
        self.sent = run.sent;
        self.failed = run.failed;
        self.cancelled = run.cancelled;
        self.suppressed = run.suppressed;
        self.bounced = run.bounced;
        self.complained = run.complained;
        self
    }

    /// The report's sentences, in order.
    pub fn lines(&self) -> Vec<ReportLine> {
        let mut out = vec![if self.total == 0 {
            ReportLine::NoRecipients
        } else {
            ReportLine::Sent {
                sent: self.sent,
                total: self.total,
            }
        }];
        if self.failed > 0 {
            out.push(ReportLine::Failed {
                failed: self.failed,
            });
        }
        if self.cancelled > 0 {
            out.push(ReportLine::Cancelled {
                cancelled: self.cancelled,
            });
        }
        if self.suppressed > 0 {
            out.push(ReportLine::Suppressed {
                suppressed: self.suppressed,
            });
        }
        if self.bounced > 0 {
            out.push(ReportLine::Bounced {
                bounced: self.bounced,
            });
        }
        if self.complained > 0 {
            out.push(ReportLine::Complained {
                complained: self.complained,
            });
        }
        if self.skipped_slots > 0 {
            out.push(ReportLine::SkippedSlots {
                skipped: self.skipped_slots,
            });
        }
        out
    }

    /// The failure replies as one list: `550 user unknown ×2, 452 full ×1, …`.
    /// Replies are SMTP servers' words and are shown as they are, redacted.
    pub fn failure_list(&self) -> String {
        let mut out = self
            .failures
            .iter()
            .map(|f| format!("{} ×{}", one_line(&f.reply), f.count))
            .collect::<Vec<_>>()
            .join(", ");
        if self.more_failures {
            out.push_str(", …");
        }
        out
    }
}

/// English: "Sent 98 of 100; 2 failed: 550 5.1.1 user unknown ×2".
impl std::fmt::Display for RunReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in self.lines() {
            match line {
                ReportLine::NoRecipients => {
                    f.write_str("No recipients: every chosen client was deleted")?
                }
                ReportLine::Sent { sent, total } => write!(f, "Sent {sent} of {total}")?,
                ReportLine::Failed { failed } => {
                    write!(f, "; {failed} failed")?;
                    let list = self.failure_list();
                    if !list.is_empty() {
                        write!(f, ": {list}")?;
                    }
                }
                ReportLine::Cancelled { cancelled } => write!(f, "; {cancelled} cancelled")?,
                ReportLine::Suppressed { suppressed } => write!(f, "; {suppressed} suppressed")?,
                ReportLine::Bounced { bounced } => write!(f, "; {bounced} bounced")?,
                ReportLine::Complained { complained } => {
                    write!(f, "; {complained} reported as spam")?
                }
                ReportLine::SkippedSlots { skipped: 1 } => {
                    f.write_str(" (1 missed slot skipped)")?
                }
                ReportLine::SkippedSlots { skipped } => {
                    write!(f, " ({skipped} missed slots skipped)")?
                }
            }
        }
        Ok(())
    }
}

/// Replaces every email address in `text` with `<address>`: SMTP replies often
/// name the recipient ("550 5.1.1 <bob@example.com>: user unknown").
///
/// ```
/// use skymailing_core::adapter::redact_addresses;
/// assert_eq!(redact_addresses("550 <bob@example.com>: no such user"), "550 <address>: no such user");
/// ```
pub fn redact_addresses(text: &str) -> String {
    let is_local = |c: char| c.is_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c);
    let is_domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let start = (0..i).rev().take_while(|&j| is_local(chars[j])).last();
            let end = (i + 1..chars.len())
                .take_while(|&j| is_domain(chars[j]))
                .last();
            if let (Some(start), Some(end)) = (start, end) {
                // Drop the local part already copied, then skip the domain.
                let local_len: usize = chars[start..i].iter().map(|c| c.len_utf8()).sum();
                out.truncate(out.len() - local_len);
                out.push_str("<address>");
                i = end + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out.replace("<<address>>", "<address>")
}

fn one_line(reply: &str) -> String {
    let reply = redact_addresses(reply);
    let line = reply
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no reply");
    if line.chars().count() > 120 {
        format!("{}…", line.chars().take(120).collect::<String>())
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_redacted_wherever_they_stand() {
        assert_eq!(redact_addresses("bob@x.org"), "<address>");
        assert_eq!(
            redact_addresses("550 User bob+tag@x.org unknown"),
            "550 User <address> unknown"
        );
        assert_eq!(
            redact_addresses("to=<a@b.c>, from=<d@e.f>"),
            "to=<address>, from=<address>"
        );
        assert_eq!(
            redact_addresses("452 mailbox full @ 10:00"),
            "452 mailbox full @ 10:00"
        );
        assert_eq!(
            redact_addresses("пользователь ann@пример.рф"),
            "пользователь <address>"
        );
    }

    fn totals(
        total: u64,
        sent: u64,
        failed: u64,
        cancelled: u64,
        failures: &[(&str, u64)],
    ) -> RunTotals {
        RunTotals {
            total,
            sent,
            failed,
            cancelled,
            failures: failures.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn replies_that_redact_alike_are_counted_together() {
        let t = totals(
            3,
            0,
            3,
            0,
            &[("550 <a@x.org> unknown", 2), ("550 <b@y.org> unknown", 1)],
        );
        let r = RunReport::new(&t, 0);
        assert_eq!(
            r.failures,
            vec![FailureCount {
                reply: "550 <address> unknown".into(),
                count: 3
            }]
        );
    }

    #[test]
    fn more_than_five_kinds_of_failure_end_in_an_ellipsis() {
        let replies: Vec<(String, u64)> = (0..7).map(|i| (format!("550 reason {i}"), 1)).collect();
        let t = RunTotals {
            total: 7,
            failed: 7,
            failures: replies,
            ..Default::default()
        };
        let r = RunReport::new(&t, 0);
        assert_eq!(r.failures.len(), 5);
        assert!(r.to_string().ends_with("550 reason 4 ×1, …"), "{r}");
    }

    #[test]
    fn report_table() {
        #[rustfmt::skip]
        let cases: &[(RunTotals, u32, &str)] = &[
            (totals(3, 3, 0, 0, &[]), 0, "Sent 3 of 3"),
            (totals(100, 98, 2, 0, &[("550 5.1.1 user unknown", 2)]), 0, "Sent 98 of 100; 2 failed: 550 5.1.1 user unknown ×2"),
            (totals(5, 2, 3, 0, &[("550 no such user", 2), ("connection error: reset", 1)]), 0,
             "Sent 2 of 5; 3 failed: 550 no such user ×2, connection error: reset ×1"),
            (totals(10, 4, 0, 6, &[]), 0, "Sent 4 of 10; 6 cancelled"),
            (totals(2, 2, 0, 0, &[]), 3, "Sent 2 of 2 (3 missed slots skipped)"),
            (totals(2, 2, 0, 0, &[]), 1, "Sent 2 of 2 (1 missed slot skipped)"),
            (totals(0, 0, 0, 0, &[]), 0, "No recipients: every chosen client was deleted"),
            (totals(1, 0, 1, 0, &[("550 first line\r\nsecond line", 1)]), 0, "Sent 0 of 1; 1 failed: 550 first line ×1"),
            (totals(1, 0, 1, 0, &[("550 5.1.1 <bob.smith@mail.example.com>: user unknown", 1)]), 0,
             "Sent 0 of 1; 1 failed: 550 5.1.1 <address>: user unknown ×1"),
        ];
        for (t, skipped, want) in cases {
            assert_eq!(RunReport::new(t, *skipped).to_string(), *want);
        }
    }
}
