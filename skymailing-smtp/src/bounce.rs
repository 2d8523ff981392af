//! Bounce and complaint intake over SMTP: a listener (mailin's SMTP state
//! machine, driven over tokio by this module) that
//! takes mail only for `bounces+TOKEN@DOMAIN`, and a parser (mail-parser for
//! the MIME structure) of what arrives there:
//!
//! - delivery status notifications (RFC 3464, `multipart/report;
//!   report-type=delivery-status`): `Action: failed` with a 5.x.x status is a
//!   hard bounce; a 4.x.x status or `Action: delayed` is a soft one;
//!   `delivered`, `relayed` and `expanded` are not bounces;
//! - complaint reports (ARF, RFC 5965, `message/feedback-report`);
//! - anything else that came back to a return path: the first SMTP status in
//!   its text (`5.1.1`, or a bare `550`), so a non-standard bounce still
//!   counts by its VERP token.
//!
//! The original message (a `message/rfc822` or `text/rfc822-headers` part)
//! gives the Message-ID; the return path gives the token. Both go to core's
//! feedback use case, which checks them against the store.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use mailin::{Action, Handler, Response, SessionBuilder, response};
use skymailing_core::{DeliveryRef, EmailAddress, FeedbackKind, FeedbackReport, FeedbackSource};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The largest message the listener takes (bounces quote the original).
pub const MAX_REPORT_BYTES: usize = 2 * 1024 * 1024;

/// Reads one report. `token` is the VERP token of the address it was sent
/// to, if any. `None`: not a bounce or complaint (a delivery or relay
/// notice, or nothing recognisable).
pub fn parse_report(raw: &[u8], token: Option<&str>) -> Option<FeedbackReport> {
    let message = MessageParser::default().parse(raw)?;
    let mut refs: Vec<DeliveryRef> = token
        .map(|t| DeliveryRef::Verp(t.to_owned()))
        .into_iter()
        .collect();
    let mut original_id: Option<String> = None;
    let mut original_to: Option<String> = None;
    let mut dsn: Option<Vec<u8>> = None;
    let mut arf: Option<Vec<u8>> = None;
    for part in &message.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let ctype = ct.ctype().to_ascii_lowercase();
        let subtype = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (&*ctype, &*subtype, &part.body) {
            (_, _, PartType::Message(original)) => {
                original_id = original_id.or(original.message_id().map(str::to_owned));
                original_to = original_to.or(original
                    .to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .map(str::to_owned));
            }
            ("message" | "text", "delivery-status" | "global-delivery-status", _) => {
                dsn = Some(part.contents().to_vec());
            }
            ("message", "feedback-report", _) => arf = Some(part.contents().to_vec()),
            ("text", "rfc822-headers", _) | ("message", "global-headers", _) => {
                let mut headers = part.contents().to_vec();
                headers.extend_from_slice(b"\r\n\r\n");
                if let Some(h) = MessageParser::default().parse(&headers) {
                    original_id = original_id.or(h.message_id().map(str::to_owned));
                    original_to = original_to.or(h
                        .to()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .map(str::to_owned));
                }
            }
            _ => {}
        }
    }
    if let Some(id) = &original_id {
        refs.push(DeliveryRef::MessageId(id.clone()));
    }
    let address = |s: &str| {
        // `rfc822; ann@example.com` or a bare address.
        let s = s.rsplit(';').next().unwrap_or(s).trim();
        EmailAddress::parse(s.trim_matches(['<', '>'])).ok()
    };
    if let Some(arf) = arf {
        let fields = fields(&arf);
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let feedback_type = get("Feedback-Type").unwrap_or_else(|| "abuse".into());
        let email = get("Original-Rcpt-To")
            .as_deref()
            .and_then(address)
            .or_else(|| original_to.as_deref().and_then(address));
        return Some(FeedbackReport {
            kind: FeedbackKind::Complaint,
            email,
            reason: format!("complaint: {feedback_type}"),
            refs,
            source: FeedbackSource::Smtp,
        });
    }
    if let Some(dsn) = dsn {
        // Per-recipient blocks follow the per-message one; the first failed
        // (or delayed) recipient decides.
        for block in blocks(&dsn).into_iter().skip(1) {
            let get = |name: &str| {
                block
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.trim().to_owned())
            };
            let action = get("Action").unwrap_or_default().to_ascii_lowercase();
            let status = get("Status").unwrap_or_default();
            let kind = match (action.as_str(), status.chars().next()) {
                ("failed", Some('5')) => FeedbackKind::Hard,
                ("failed", Some('4')) | ("delayed", _) => FeedbackKind::Soft,
                ("failed", _) => FeedbackKind::Hard,
                _ => continue,
            };
            let email = get("Final-Recipient")
                .or_else(|| get("Original-Recipient"))
                .as_deref()
                .and_then(address)
                .or_else(|| original_to.as_deref().and_then(address));
            let diagnostic = get("Diagnostic-Code").unwrap_or_default();
            let diagnostic = diagnostic.rsplit(';').next().unwrap_or_default().trim();
            return Some(FeedbackReport {
                kind,
                email,
                reason: format!("{action} {status} {diagnostic}").trim().to_owned(),
                refs,
                source: FeedbackSource::Smtp,
            });
        }
        return None;
    }
    // Not a standard report: only mail to a return path counts, by the
    // first SMTP status in its text; an automatic reply is no bounce.
    token?;
    if is_auto_reply(&message) {
        return None;
    }
    let text = message.body_text(0).unwrap_or_default();
    let (kind, line) = text.lines().find_map(|line| {
        smtp_status(line).map(|class| {
            (
                if class == '5' {
                    FeedbackKind::Hard
                } else {
                    FeedbackKind::Soft
                },
                line.trim().to_owned(),
            )
        })
    })?;
    Some(FeedbackReport {
        kind,
        email: original_to.as_deref().and_then(address),
        reason: line,
        refs,
        source: FeedbackSource::Smtp,
    })
}

/// The class (`4` or `5`) of the first SMTP status in a line: an enhanced
/// status (`5.1.1`) anywhere, or a reply code (`550`) where an MTA writes
/// one — first on the line, or right after a colon (`<ann@x>: 550 …`,
/// `said: 550 …`); a number elsewhere in prose ("call ext 512") is none.
fn smtp_status(line: &str) -> Option<char> {
    let trim = |w: &str| {
        w.trim_matches(|c: char| matches!(c, ',' | ';' | ':' | '(' | ')' | '[' | ']' | '.' | '-'))
            .to_owned()
    };
    let mut after_colon = true;
    for raw in line.split_whitespace() {
        let w = trim(raw);
        let b = w.as_bytes();
        let class = b.first().copied().filter(|c| matches!(c, b'4' | b'5'));
        let parts: Vec<&str> = w.split('.').collect();
        let enhanced = parts.len() == 3
            && parts[0].len() == 1
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()));
        let code = b.len() == 3 && b.iter().all(u8::is_ascii_digit);
        if let Some(c) = class
            && (enhanced || (code && after_colon))
        {
            return Some(c as char);
        }
        after_colon = raw.ends_with(':');
    }
    None
}

/// Whether a message is an automatic reply (out of office, vacation), not
/// a bounce (RFC 3834 and the headers the common responders add).
fn is_auto_reply(message: &mail_parser::Message<'_>) -> bool {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let auto_submitted = header("Auto-Submitted").is_some_and(|v| v != "no");
    let responder = ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"]
        .iter()
        .any(|h| header(h).is_some())
        || header("Precedence").is_some_and(|v| v.contains("auto_reply"));
    let subject = message.subject().unwrap_or_default().to_ascii_lowercase();
    let subject_says = [
        "auto:",
        "automatic reply",
        "out of office",
        "autoreply",
        "vacation",
    ]
    .iter()
    .any(|p| subject.starts_with(p) || subject.contains(&format!(" {p}")));
    auto_submitted || responder || subject_says
}

/// The `Name: value` fields of a header-like block (continuation lines joined).
fn fields(text: &[u8]) -> Vec<(String, String)> {
    blocks(text).into_iter().flatten().collect()
}

/// Blocks of `Name: value` fields separated by blank lines (RFC 3464 §2.1).
fn blocks(text: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(text);
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            if out.last().is_some_and(|b| !b.is_empty()) {
                out.push(Vec::new());
            }
            continue;
        }
        let block = out.last_mut().expect("one block at least");
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = block.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            block.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out.retain(|b| !b.is_empty());
    out
}

/// Where the listener's reports go. A report is kept before the sender is
/// told 250, so an error here is answered 451 and the sender tries again.
#[async_trait::async_trait]
pub trait ReportSink: Send + Sync {
    /// Keeps one report; an error means "try again later".
    async fn keep(&self, report: FeedbackReport) -> Result<(), String>;
}

/// The report a session read, waiting to be kept before the reply.
type Slot = Arc<std::sync::Mutex<Option<FeedbackReport>>>;

struct Intake {
    domain: String,
    slot: Slot,
    token: Option<String>,
    data: Vec<u8>,
    too_big: bool,
}

impl Handler for Intake {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        self.token = None;
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        match skymailing_core::adapter::verp_token_of(to, &self.domain) {
            Some(token) => {
                self.token = Some(token.to_owned());
                response::OK
            }
            None => Response::custom(
                550,
                "5.1.1 no such mailbox: this host takes bounces only".into(),
            ),
        }
    }

    fn data_start(&mut self, _: &str, _: &str, _: bool, _: &[String]) -> Response {
        self.data.clear();
        self.too_big = false;
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.data.len() + buf.len() > MAX_REPORT_BYTES {
            self.too_big = true;
        } else {
            self.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let data = std::mem::take(&mut self.data);
        if self.too_big {
            return Response::custom(552, "5.3.4 message too big for a bounce".into());
        }
        match parse_report(&data, self.token.as_deref()) {
            Some(report) => {
                *self
                    .slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(report)
            }
            None => {
                tracing::info!(
                    bytes = data.len(),
                    "mail to a return path that is no bounce or complaint; ignored"
                )
            }
        }
        response::OK
    }
}

/// How long the listener waits for each line of a session, or for the
/// sender to take a reply.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one session may last in all.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest line taken (a command, or a line of the message).
const MAX_LINE: usize = 64 * 1024;

/// `MAIL FROM:<>`, the null reverse path every bounce is sent with (RFC
/// 5321 §4.5.5), which mailin's parser refuses: handed to it as a marker.
fn null_sender_as_marker(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let upper = line.to_ascii_uppercase();
    let Some(rest) = upper.strip_prefix(b"MAIL FROM:") else {
        return std::borrow::Cow::Borrowed(line);
    };
    let spaces = rest.iter().take_while(|b| **b == b' ').count();
    if !rest[spaces..].starts_with(b"<>") {
        return std::borrow::Cow::Borrowed(line);
    }
    let at = b"MAIL FROM:".len() + spaces + 1;
    let mut out = line[..at].to_vec();
    out.extend_from_slice(b"MAILER-DAEMON");
    out.extend_from_slice(&line[at..]);
    std::borrow::Cow::Owned(out)
}

async fn send(write: &mut tokio::net::tcp::OwnedWriteHalf, bytes: &[u8]) -> std::io::Result<()> {
    tokio::time::timeout(LINE_TIMEOUT, write.write_all(bytes))
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "the sender takes no reply")
        })?
}

async fn session(
    stream: TcpStream,
    peer: SocketAddr,
    builder: Arc<SessionBuilder>,
    domain: String,
    sink: Arc<dyn ReportSink>,
) -> std::io::Result<()> {
    let slot: Slot = Arc::default();
    let handler = Intake {
        domain,
        slot: slot.clone(),
        token: None,
        data: Vec::new(),
        too_big: false,
    };
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut session = builder.build(peer.ip(), handler);
    send(&mut write, &session.greeting().buffer()?).await?;
    let mut in_data = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut read).take(MAX_LINE as u64);
        let read_line = limited.read_until(b'\n', &mut line);
        let n = match tokio::time::timeout(LINE_TIMEOUT, read_line).await {
            Ok(r) => r?,
            Err(_) => {
                send(&mut write, b"421 4.4.2 timeout, closing\r\n").await?;
                return Ok(());
            }
        };
        if n == 0 {
            return Ok(());
        }
        if !line.ends_with(b"\n") {
            send(&mut write, b"500 5.5.6 line too long, closing\r\n").await?;
            return Ok(());
        }
        let ends_data = in_data && (line == b".\r\n" || line == b".\n");
        let reply = if in_data {
            session.process(&line)
        } else {
            session.process(&null_sender_as_marker(&line))
        };
        if reply.code == 354 {
            in_data = true;
        } else if ends_data {
            in_data = false;
        }
        // A report is kept before the sender hears 250.
        let report = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(report) = report
            && let Err(e) = sink.keep(report).await
        {
            tracing::warn!(error = %e, %peer, "a bounce report could not be kept; the sender will retry");
            send(
                &mut write,
                b"451 4.3.0 cannot keep the report now, try again later\r\n",
            )
            .await?;
            continue;
        }
        match reply.action {
            Action::NoReply => {}
            Action::Close => {
                send(&mut write, &reply.buffer()?).await?;
                return Ok(());
            }
            _ => send(&mut write, &reply.buffer()?).await?,
        }
    }
}

/// Starts the bounce listener on `addr` for `bounces+TOKEN@domain`: an SMTP
/// session (mailin's state machine) per connection on tokio, at most
/// `connections` at once (others are told to come back later), each line
/// and reply within [`LINE_TIMEOUT`] and the session within
/// [`SESSION_TIMEOUT`], messages up to [`MAX_REPORT_BYTES`]. Each report it
/// reads is kept by `sink` before the sender is answered. Returns the
/// address it listens on.
pub async fn start_bounce_listener(
    addr: SocketAddr,
    domain: &str,
    connections: usize,
    sink: Arc<dyn ReportSink>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let domain = domain.to_ascii_lowercase();
    let builder = Arc::new(SessionBuilder::new(domain.clone()));
    let slots = Arc::new(Semaphore::new(connections.max(1)));
    tokio::spawn(async move {
        loop {
            let (mut stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "the bounce listener cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    stream.write_all(b"421 4.3.2 too many connections, try again later\r\n"),
                )
                .await;
                continue;
            };
            let (builder, domain, sink) = (builder.clone(), domain.clone(), sink.clone());
            tokio::spawn(async move {
                let run = session(stream, peer, builder, domain, sink);
                match tokio::time::timeout(SESSION_TIMEOUT, run).await {
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, %peer, "a bounce session ended early")
                    }
                    Err(_) => tracing::debug!(%peer, "a bounce session ran out of time"),
                    Ok(Ok(())) => {}
                }
                drop(permit);
            });
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSN: &str = "From: MAILER-DAEMON@mx.example\r\nTo: bounces+7-0123456789abcdef@b.example\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; ann@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: news@shop.example\r\nTo: ann@example.com\r\nMessage-ID: <n1.2.7@shop.example>\r\nSubject: Hi\r\n--B--\r\n";

    #[test]
    fn a_dsn_is_a_hard_bounce_with_its_recipient_and_original_id() {
        let r = parse_report(DSN.as_bytes(), Some("7-0123456789abcdef")).unwrap();
        assert_eq!(r.kind, FeedbackKind::Hard);
        assert_eq!(r.email.unwrap().as_str(), "ann@example.com");
        assert!(r.reason.contains("5.1.1"), "{}", r.reason);
        assert_eq!(
            r.refs,
            vec![
                DeliveryRef::Verp("7-0123456789abcdef".into()),
                DeliveryRef::MessageId("n1.2.7@shop.example".into())
            ]
        );
        let soft = DSN.replace("Status: 5.1.1", "Status: 4.2.2");
        assert_eq!(
            parse_report(soft.as_bytes(), None).unwrap().kind,
            FeedbackKind::Soft
        );
        let delayed = DSN.replace("Action: failed", "Action: delayed");
        assert_eq!(
            parse_report(delayed.as_bytes(), None).unwrap().kind,
            FeedbackKind::Soft
        );
        let delivered = DSN.replace("Action: failed", "Action: delivered");
        assert_eq!(parse_report(delivered.as_bytes(), None), None);
    }

    #[test]
    fn automatic_replies_and_numbers_in_prose_are_no_bounces() {
        let away =
            "From: ann@example.com\r\nSubject: Out of office\r\n\r\nI am away, call ext 512.\r\n";
        assert_eq!(
            parse_report(away.as_bytes(), Some("7-0123456789abcdef")),
            None
        );
        let prose = "From: ann@example.com\r\nSubject: Re: news\r\n\r\nThanks! Call me at ext 512 or 550.\r\n";
        assert_eq!(
            parse_report(prose.as_bytes(), Some("7-0123456789abcdef")),
            None
        );
        let auto = "From: ann@example.com\r\nAuto-Submitted: auto-replied\r\nSubject: Re\r\n\r\n550 5.1.1 gone\r\n";
        assert_eq!(
            parse_report(auto.as_bytes(), Some("7-0123456789abcdef")),
            None
        );
        assert_eq!(
            smtp_status("host mx.example said: 550 no such user"),
            Some('5')
        );
        assert_eq!(smtp_status("Remote said 4.2.2 mailbox full"), Some('4'));
    }

    #[test]
    fn the_null_sender_of_bounces_is_taken() {
        assert_eq!(
            &*null_sender_as_marker(b"MAIL FROM:<>\r\n"),
            b"MAIL FROM:<MAILER-DAEMON>\r\n"
        );
        assert_eq!(
            &*null_sender_as_marker(b"mail from: <> BODY=8BITMIME\r\n"),
            b"mail from: <MAILER-DAEMON> BODY=8BITMIME\r\n"
        );
        assert_eq!(
            &*null_sender_as_marker(b"MAIL FROM:<a@b.example>\r\n"),
            b"MAIL FROM:<a@b.example>\r\n"
        );
        assert_eq!(
            &*null_sender_as_marker(b"RCPT TO:<>\r\n"),
            b"RCPT TO:<>\r\n"
        );
    }

    #[test]
    fn an_arf_report_is_a_complaint() {
        let arf = "From: fbl@isp.example\r\nTo: bounces+7-0123456789abcdef@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\r\n\r\n--A\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n--A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: isp/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: <bob@example.com>\r\n--A\r\nContent-Type: message/rfc822\r\n\r\nFrom: news@shop.example\r\nTo: bob@example.com\r\nMessage-ID: <n1.2.8@shop.example>\r\nSubject: Hi\r\n\r\nHello\r\n--A--\r\n";
        let r = parse_report(arf.as_bytes(), None).unwrap();
        assert_eq!(r.kind, FeedbackKind::Complaint);
        assert_eq!(r.email.unwrap().as_str(), "bob@example.com");
        assert_eq!(
            r.refs,
            vec![DeliveryRef::MessageId("n1.2.8@shop.example".into())]
        );
    }

    #[test]
    fn a_non_standard_bounce_counts_by_its_token_and_status() {
        let raw = "From: postmaster@old.example\r\nSubject: failure notice\r\n\r\nSorry, we could not deliver.\r\n<ann@example.com>: 552 mailbox full\r\n";
        let r = parse_report(raw.as_bytes(), Some("7-0123456789abcdef")).unwrap();
        assert_eq!(r.kind, FeedbackKind::Hard);
        assert!(r.reason.contains("552"), "{}", r.reason);
        assert_eq!(
            parse_report(raw.as_bytes(), None),
            None,
            "without a token: nothing to go by"
        );
        let soft = raw.replace("552 mailbox full", "try again: 4.2.2 over quota");
        assert_eq!(
            parse_report(soft.as_bytes(), Some("7-0123456789abcdef"))
                .unwrap()
                .kind,
            FeedbackKind::Soft
        );
    }
}
