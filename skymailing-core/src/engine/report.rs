//! The readable report of a finished run.

use crate::RunTotals;

/// Failure replies listed in a report at most.
const TOP_FAILURES: usize = 5;

/// Summarises a finished run: "Sent 98 of 100; 2 failed: 550 5.1.1 user unknown ×2".
/// Reports are public to every signed-in user, so addresses in the failure
/// replies are replaced with `<address>` (see [`redact_addresses`]).
///
/// ```
/// use skymailing_core::{RunTotals, engine::summarize};
/// let t = RunTotals { total: 100, sent: 98, failed: 2,
///     failures: vec![("550 5.1.1 user unknown".into(), 2)], ..Default::default() };
/// assert_eq!(summarize(&t, 0), "Sent 98 of 100; 2 failed: 550 5.1.1 user unknown ×2");
/// ```
pub fn summarize(t: &RunTotals, skipped_slots: u32) -> String {
    let mut out = if t.total == 0 {
        "No recipients: every chosen client was unsubscribed or deleted".to_owned()
    } else {
        format!("Sent {} of {}", t.sent, t.total)
    };
    if t.failed > 0 {
        out.push_str(&format!("; {} failed", t.failed));
        let reasons: Vec<String> = t
            .failures
            .iter()
            .take(TOP_FAILURES)
            .map(|(reply, n)| format!("{} ×{n}", one_line(reply)))
            .collect();
        if !reasons.is_empty() {
            out.push_str(": ");
            out.push_str(&reasons.join(", "));
        }
        if t.failures.len() > TOP_FAILURES {
            out.push_str(", …");
        }
    }
    if t.cancelled > 0 {
        out.push_str(&format!("; {} cancelled", t.cancelled));
    }
    match skipped_slots {
        0 => {}
        1 => out.push_str(" (1 missed slot skipped)"),
        n => out.push_str(&format!(" ({n} missed slots skipped)")),
    }
    out
}

/// Replaces every email address in `text` with `<address>`: SMTP replies often
/// name the recipient ("550 5.1.1 <bob@example.com>: user unknown").
///
/// ```
/// use skymailing_core::engine::redact_addresses;
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
            (totals(0, 0, 0, 0, &[]), 0, "No recipients: every chosen client was unsubscribed or deleted"),
            (totals(1, 0, 1, 0, &[("550 first line\r\nsecond line", 1)]), 0, "Sent 0 of 1; 1 failed: 550 first line ×1"),
            (totals(1, 0, 1, 0, &[("550 5.1.1 <bob.smith@mail.example.com>: user unknown", 1)]), 0,
             "Sent 0 of 1; 1 failed: 550 5.1.1 <address>: user unknown ×1"),
        ];
        for (t, skipped, want) in cases {
            assert_eq!(summarize(t, *skipped), *want);
        }
    }
}
