//! Turning an [`OutgoingEmail`] into a MIME message (lettre's builder).
//!
//! - `multipart/alternative` (text, then HTML) when there is an HTML body;
//! - UTF-8 subjects and names encoded by lettre (RFC 2047);
//! - From is always the service's address, with the mailing's sender name
//!   when it has one (so DKIM and SPF hold); `Reply-To` when one is set;
//! - `Date`, the delivery's stable `Message-ID`, and for mailings
//!   `List-Unsubscribe` with the recipient's link plus
//!   `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058);
//! - `Feedback-ID` (mailing, owner, service) for mailings, for the mailbox
//!   providers' complaint feedback loops;
//! - CR, LF and other control characters in any header value are replaced with
//!   spaces before they reach a header, so user data can never start a header.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, MIME_VERSION_1_0};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use skymailing_core::ports::{OutgoingEmail, SendError};

use crate::DkimSigner;

/// One line: control characters (CR and LF above all) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(
            s.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned(),
        ))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

#[derive(Clone)]
struct FeedbackId(String);

impl Header for FeedbackId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Feedback-ID")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(FeedbackId(s.trim().to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// A body part. ASCII text whose lines fit RFC 5322's limit of 998 characters
/// (997 here, leaving room for SMTP's dot-stuffing of a leading `.`)
/// goes out as `7bit`, as it is; lettre's own choice would quoted-printable
/// encode any text with a line of 76 characters or more — and every mailing
/// has one, its unsubscribe link — costing CPU on every message for nothing.
/// Anything else is left to lettre (quoted-printable or base64).
fn body(text: &str) -> Body {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let fits = normalized.is_ascii()
        && !normalized.contains('\0')
        && normalized.lines().all(|l| l.len() <= 997);
    if fits {
        Body::dangerous_pre_encoded(
            normalized.replace('\n', "\r\n").into_bytes(),
            ContentTransferEncoding::SevenBit,
        )
    } else {
        Body::new(normalized)
    }
}

/// Builds the message. An address lettre cannot use is a permanent failure (no
/// retry can fix it).
pub fn build_message(email: &OutgoingEmail, from: &Mailbox) -> Result<Message, SendError> {
    let permanent = |what: &str, e: &dyn std::fmt::Display| SendError::Permanent {
        reply: format!("cannot build the message: {what}: {e}"),
    };
    let address = email
        .to
        .as_str()
        .parse()
        .map_err(|e| permanent("recipient address", &e))?;
    let name = one_line(&email.to_name);
    let to = Mailbox::new((!name.is_empty()).then_some(name), address);
    let from = match email.from_name.as_deref().map(one_line) {
        Some(name) if !name.is_empty() => Mailbox::new(Some(name), from.email.clone()),
        _ => from.clone(),
    };
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(one_line(&email.subject))
        .date(SystemTime::now())
        .message_id(Some(one_line(&email.message_id)));
    if let Some(url) = &email.unsubscribe_url {
        // Angle brackets and spaces cannot appear inside the bracketed URL.
        let url: String = one_line(url)
            .chars()
            .filter(|c| !matches!(c, '<' | '>' | ' '))
            .collect();
        builder = builder
            .header(ListUnsubscribe(url))
            .header(ListUnsubscribePost);
    }
    // An address core validated but lettre's stricter grammar refuses
    // cannot stop the message: it goes without a Reply-To.
    if let Some(reply_to) = email
        .reply_to
        .as_ref()
        .and_then(|a| a.as_str().parse().ok())
    {
        builder = builder.reply_to(Mailbox::new(None, reply_to));
    }
    if let Some(id) = &email.feedback_id {
        builder = builder.header(FeedbackId(one_line(id)));
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(body(&email.text));
    // The part's own headers (Content-Type, Content-Transfer-Encoding) are
    // set on the message itself and the part's body is its body: lettre's
    // DKIM signer hashes the message's headers only, so a Content-Type left
    // on the part would be listed in the signature but not hashed, and
    // every verifier would fail it.
    let (content_type, encoding, formatted) = match &email.html {
        Some(html) => {
            let multi = MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(body(html)),
            );
            (
                multi.headers().get::<ContentType>(),
                None,
                multi.formatted(),
            )
        }
        None => (
            text.headers().get::<ContentType>(),
            text.headers().get::<ContentTransferEncoding>(),
            text.formatted(),
        ),
    };
    let body_at = formatted
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |at| at + 4);
    let part_body = formatted[body_at..].to_vec();
    let encoding = encoding.unwrap_or(if part_body.is_ascii() {
        ContentTransferEncoding::SevenBit
    } else {
        ContentTransferEncoding::EightBit
    });
    if let Some(ct) = content_type {
        builder = builder.header(ct);
    }
    builder
        .header(MIME_VERSION_1_0)
        .body(Body::dangerous_pre_encoded(part_body, encoding))
        .map_err(|e| permanent("message", &e))
}

/// The message as it goes out: built, then DKIM-signed when a signer is set.
pub(crate) fn compose(
    email: &OutgoingEmail,
    from: &Mailbox,
    dkim: Option<&DkimSigner>,
) -> Result<Message, SendError> {
    let mut message = build_message(email, from)?;
    if let Some(signer) = dkim {
        signer.sign(&mut message);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skymailing_core::EmailAddress;

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            to: EmailAddress::parse("ann@example.com").unwrap(),
            to_name: "Анна Каренина".into(),
            from_name: None,
            reply_to: None,
            subject: "Привет, Анна".into(),
            text: "Текст".into(),
            html: Some("<p>Текст</p>".into()),
            message_id: "<n.1.2@mail.example>".into(),
            unsubscribe_url: Some("https://mail.example/unsubscribe/abc".into()),
            return_path: None,
            feedback_id: None,
        }
    }

    fn parse(bytes: &[u8]) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(bytes).unwrap()
    }

    #[test]
    fn utf8_headers_are_encoded_and_parts_alternate() {
        let from: Mailbox = "SkyMailing <news@mail.example>".parse().unwrap();
        let raw = build_message(&email(), &from).unwrap().formatted();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Subject: =?utf-8?"), "{text}");
        assert!(!text.contains("Subject: Привет"), "raw UTF-8 in a header");
        let m = parse(&raw);
        assert_eq!(m.subject(), Some("Привет, Анна"));
        let to = m.to().unwrap().first().unwrap();
        assert_eq!(
            (to.name(), to.address()),
            (Some("Анна Каренина"), Some("ann@example.com"))
        );
        assert_eq!(m.message_id(), Some("n.1.2@mail.example"));
        assert!(m.date().is_some());
        assert_eq!(m.body_text(0).as_deref(), Some("Текст"));
        assert_eq!(m.body_html(0).as_deref(), Some("<p>Текст</p>"));
        assert!(text.contains("multipart/alternative"));
        assert_eq!(
            m.header_raw("List-Unsubscribe").map(str::trim),
            Some("<https://mail.example/unsubscribe/abc>")
        );
        assert_eq!(
            m.header_raw("List-Unsubscribe-Post").map(str::trim),
            Some("List-Unsubscribe=One-Click")
        );
    }

    #[test]
    fn the_sender_name_goes_beside_the_services_address_and_replies_to_the_reply_to() {
        let from: Mailbox = "SkyMailing <news@mail.example>".parse().unwrap();
        let raw = build_message(&email(), &from).unwrap().formatted();
        let m = parse(&raw);
        let f = m.from().unwrap().first().unwrap();
        assert_eq!(
            (f.name(), f.address()),
            (Some("SkyMailing"), Some("news@mail.example"))
        );
        assert!(m.reply_to().is_none());
        let mut e = email();
        e.from_name = Some("Магазин Анны".into());
        e.reply_to = Some(EmailAddress::parse("ann@shop.example").unwrap());
        let raw = build_message(&e, &from).unwrap().formatted();
        let m = parse(&raw);
        let f = m.from().unwrap().first().unwrap();
        assert_eq!(
            (f.name(), f.address()),
            (Some("Магазин Анны"), Some("news@mail.example"))
        );
        assert_eq!(
            m.reply_to().unwrap().first().unwrap().address(),
            Some("ann@shop.example")
        );
    }

    #[test]
    fn ascii_text_with_a_long_link_goes_out_as_7bit() {
        let mut e = email();
        e.text = format!(
            "Hello,\n.leading dot\nUnsubscribe: https://mail.example/unsubscribe/{}\n",
            "a".repeat(64)
        );
        e.html = None;
        let raw = build_message(&e, &"a@b.example".parse().unwrap())
            .unwrap()
            .formatted();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Content-Transfer-Encoding: 7bit"), "{text}");
        assert!(text.contains(&format!("unsubscribe/{}\r\n", "a".repeat(64))));
        assert_eq!(
            parse(&raw).body_text(0).as_deref().map(str::trim_end),
            Some(e.text.replace('\n', "\r\n").trim_end())
        );
        // Non-ASCII text is still encoded.
        e.text = "Привет".into();
        let raw = build_message(&e, &"a@b.example".parse().unwrap())
            .unwrap()
            .formatted();
        assert!(!String::from_utf8_lossy(&raw).contains("7bit"));
        assert_eq!(parse(&raw).body_text(0).as_deref(), Some("Привет"));
    }

    #[test]
    fn crlf_in_any_field_never_makes_a_header() {
        let mut e = email();
        e.subject = "Hi\r\nBcc: victim@evil.example".into();
        e.to_name = "Ann\r\nX-Injected: 1".into();
        e.message_id = "<id@x>\r\nX-Evil: 2".into();
        e.unsubscribe_url = Some("https://x/u\r\nX-Evil: 3".into());
        e.from_name = Some("Shop\r\nX-Evil: 4".into());
        e.html = None;
        let raw = build_message(&e, &"a@b.example".parse().unwrap())
            .unwrap()
            .formatted();
        let m = parse(&raw);
        for name in ["Bcc", "X-Injected", "X-Evil"] {
            assert!(
                m.header_raw(name).is_none(),
                "{name} injected:\n{}",
                String::from_utf8_lossy(&raw)
            );
        }
        assert_eq!(m.subject(), Some("Hi  Bcc: victim@evil.example"));
        assert_eq!(
            m.from().unwrap().first().unwrap().name(),
            Some("Shop  X-Evil: 4")
        );
        assert!(
            !String::from_utf8_lossy(&raw).contains("multipart"),
            "text only without HTML"
        );
    }
}
