//! Message templates (minijinja). A message's subject and bodies may use the
//! placeholders `{{ name }}`, `{{ email }}` and `{{ unsubscribe_url }}`. Templates
//! are checked when a message is saved (syntax, with line and column; unknown
//! placeholders), compiled once per run and rendered once per recipient. The HTML
//! body auto-escapes every value; the subject and the text body do not.

use minijinja::{Environment, UndefinedBehavior, context};

use super::RunContent;
use crate::{Error, Reason};

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 3] = ["name", "email", "unsubscribe_url"];

/// The most one rendered part (subject, text or HTML) may take: checked on save
/// with a sample recipient, and enforced at every send (a permanent failure).
pub const MAX_RENDERED_BYTES: usize = 1024 * 1024;

/// Stops a rendering as soon as it passes [`MAX_RENDERED_BYTES`].
#[derive(Default)]
struct Capped {
    out: Vec<u8>,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > MAX_RENDERED_BYTES {
            self.over = true;
            return Err(std::io::Error::other("rendered part too large"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders one template within the size cap; the error is the reason.
fn render_capped(
    tmpl: &minijinja::Template<'_, '_>,
    ctx: &minijinja::Value,
) -> Result<String, Reason> {
    let mut out = Capped::default();
    match tmpl.render_captured_to(ctx, &mut out) {
        Ok(_) => String::from_utf8(out.out).map_err(|e| Reason::TemplateRender {
            detail: e.to_string(),
        }),
        Err(_) if out.over => Err(Reason::RenderedTooLarge {
            max_kb: MAX_RENDERED_BYTES / 1024,
        }),
        Err(e) => Err(Reason::TemplateRender {
            detail: e.detail().map_or_else(|| e.to_string(), str::to_owned),
        }),
    }
}

const SUBJECT: &str = "subject.txt";
const TEXT: &str = "body.txt";
const HTML: &str = "body.html";

/// Template checks used when a message is saved.
pub struct Templates;

impl Templates {
    /// Checks that `source` compiles and uses only [`PLACEHOLDERS`]; the error
    /// names `field` and gives the line and column of a syntax error.
    pub fn check(field: &'static str, source: &str) -> Result<(), Error> {
        let env = environment();
        let tmpl = env
            .template_from_str(source)
            .map_err(|e| template_error(field, source, &e))?;
        let mut unknown: Vec<String> = tmpl
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !PLACEHOLDERS.contains(&v.as_str()))
            .collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            return Err(Error::invalid(
                field,
                Reason::UnknownPlaceholder {
                    name: first.clone(),
                },
            ));
        }
        // What only rendering finds (an unknown filter, a runaway loop, an
        // oversized result), found now with a sample recipient rather than at
        // every send.
        let sample = context! {
            name => "Sample Recipient",
            email => "recipient@example.com",
            unsubscribe_url => "https://example.com/unsubscribe/sample",
        };
        render_capped(&tmpl, &sample)
            .map(drop)
            .map_err(|reason| Error::invalid(field, reason))
    }
}

/// Instructions one rendering may execute: far more than any real message
/// needs, few enough that a hostile loop stops in milliseconds.
const FUEL: u64 = 200_000;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(50);
    env
}

fn template_error(field: &'static str, source: &str, e: &minijinja::Error) -> Error {
    let line = e.line().unwrap_or(1);
    let column = e
        .range()
        .map(|r| {
            let start = r.start.min(source.len());
            let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
            source[line_start..start].chars().count() + 1
        })
        .unwrap_or(1);
    let detail = e.detail().unwrap_or("syntax error").to_owned();
    Error::invalid(
        field,
        Reason::TemplateSyntax {
            line,
            column,
            detail,
        },
    )
}

/// Values for one recipient.
#[derive(Debug, Clone, Copy)]
pub struct TemplateContext<'a> {
    /// The client's full name.
    pub name: &'a str,
    /// The client's address.
    pub email: &'a str,
    /// The recipient's unsubscribe link.
    pub unsubscribe_url: &'a str,
}

/// A message rendered for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    /// One line.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML, when the message has an HTML body.
    pub html: Option<String>,
}

/// A run's message compiled once, rendered for each recipient.
pub struct CompiledMessage {
    env: Environment<'static>,
    has_html: bool,
}

impl CompiledMessage {
    /// Compiles the snapshot of a run.
    pub fn compile(content: &RunContent) -> Result<Self, Error> {
        let mut env = environment();
        env.add_template_owned(SUBJECT, content.subject.clone())
            .map_err(|e| template_error("subject", &content.subject, &e))?;
        let lang = content.language.as_ref().map_or("en", |l| l.as_str());
        // Every mailing carries a visible way out: a body that does not show
        // the unsubscribe link gets a short footer with it.
        let text = if uses_unsubscribe(&content.body_text) {
            content.body_text.clone()
        } else {
            format!("{}{}", content.body_text, footer_text(lang))
        };
        env.add_template_owned(TEXT, text)
            .map_err(|e| template_error("body_text", &content.body_text, &e))?;
        if let Some(html) = &content.body_html {
            let html_with = if uses_unsubscribe(html) {
                html.clone()
            } else {
                with_html_footer(html, footer_html(lang))
            };
            env.add_template_owned(HTML, html_with)
                .map_err(|e| template_error("body_html", html, &e))?;
        }
        Ok(CompiledMessage {
            env,
            has_html: content.body_html.is_some(),
        })
    }

    /// Renders for one recipient.
    pub fn render(&self, values: &TemplateContext<'_>) -> Result<RenderedMessage, Error> {
        let ctx = context! {
            name => values.name,
            email => values.email,
            unsubscribe_url => values.unsubscribe_url,
        };
        let render = |name: &str| -> Result<String, Error> {
            let tmpl = self
                .env
                .get_template(name)
                .map_err(|e| Error::Internal(format!("rendering {name}: {e}")))?;
            render_capped(&tmpl, &ctx).map_err(|reason| Error::invalid(field_of(name), reason))
        };
        let subject = render(SUBJECT)?
            .split(['\r', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(RenderedMessage {
            subject,
            text: render(TEXT)?,
            html: if self.has_html {
                Some(render(HTML)?)
            } else {
                None
            },
        })
    }
}

/// Whether a template shows the unsubscribe link itself.
fn uses_unsubscribe(source: &str) -> bool {
    environment()
        .template_from_str(source)
        .map(|t| t.undeclared_variables(false).contains("unsubscribe_url"))
        .unwrap_or(true)
}

/// The text footer added to a body without the unsubscribe link, in the
/// owner's language (English for any other).
fn footer_text(lang: &str) -> &'static str {
    match lang {
        "ru" => "\n\n--\nЧтобы отписаться от этих писем, откройте: {{ unsubscribe_url }}\n",
        _ => "\n\n--\nTo stop receiving these emails, open: {{ unsubscribe_url }}\n",
    }
}

/// The HTML footer, likewise.
fn footer_html(lang: &str) -> &'static str {
    match lang {
        "ru" => {
            "<p style=\"font-size:12px;color:#666\">Чтобы отписаться от этих писем, <a href=\"{{ unsubscribe_url }}\">нажмите здесь</a>.</p>"
        }
        _ => {
            "<p style=\"font-size:12px;color:#666\">To stop receiving these emails, <a href=\"{{ unsubscribe_url }}\">unsubscribe here</a>.</p>"
        }
    }
}

/// The HTML body with the footer before its closing `</body>`, or at its end.
fn with_html_footer(html: &str, footer: &str) -> String {
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(at) => format!("{}{footer}{}", &html[..at], &html[at..]),
        None => format!("{html}{footer}"),
    }
}

/// The message field a compiled template came from.
fn field_of(template: &str) -> &'static str {
    match template {
        SUBJECT => "subject",
        HTML => "body_html",
        _ => "body_text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What only rendering finds is refused on save: an unknown filter, a
    /// runaway loop, an oversized result.
    #[test]
    fn save_refuses_what_would_fail_or_explode_at_send() {
        let reason = |src: &str| match Templates::check("body_text", src) {
            Err(Error::Invalid {
                field: "body_text",
                reason,
            }) => reason,
            other => panic!("{src}: {other:?}"),
        };
        assert!(matches!(
            reason("Hi {{ name | shout }}"),
            Reason::TemplateRender { .. }
        ));
        let runaway = reason(
            r#"{% for i in "xxxxxxxxxx" * 1000 %}{% for j in "xxxxxxxxxx" * 1000 %}x{% endfor %}{% endfor %}"#,
        );
        assert!(
            matches!(
                runaway,
                Reason::TemplateRender { .. } | Reason::RenderedTooLarge { .. }
            ),
            "{runaway:?}"
        );
        assert_eq!(
            reason(r#"{{ "x" * 6000000 }}"#),
            Reason::RenderedTooLarge { max_kb: 1024 }
        );
        assert!(Templates::check("body_text", "Hi {{ name | upper }}").is_ok());
    }

    /// At send the cap holds too, for whatever a recipient's values make of a
    /// template: a permanent failure of that delivery, not a 12 MB mail.
    #[test]
    fn a_rendering_over_the_cap_fails() {
        let c = CompiledMessage::compile(&content("Hi", "{{ name * 100000 }}", None)).unwrap();
        let values = TemplateContext {
            name: "A very long name of a client",
            email: "a@example.com",
            unsubscribe_url: "https://x/u/t",
        };
        match c.render(&values) {
            Err(Error::Invalid {
                reason: Reason::RenderedTooLarge { .. },
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    fn content(subject: &str, text: &str, html: Option<&str>) -> RunContent {
        RunContent {
            mailing_id: None,
            mailing_name: "m".into(),
            subject: subject.into(),
            body_text: text.into(),
            body_html: html.map(Into::into),
            nonce: "n".into(),
            owner: crate::UserId(1),
            language: None,
            sender: Default::default(),
        }
    }

    const ANN: TemplateContext<'static> = TemplateContext {
        name: "Ann <b>",
        email: "ann@example.com",
        unsubscribe_url: "https://x.test/u/1",
    };

    #[test]
    fn renders_placeholders_per_recipient() {
        let c = CompiledMessage::compile(&content(
            "Hi {{ name }}",
            "Dear {{ name }} ({{ email }})",
            None,
        ))
        .unwrap();
        let r = c.render(&ANN).unwrap();
        assert_eq!(r.subject, "Hi Ann <b>");
        assert_eq!(
            r.text,
            "Dear Ann <b> (ann@example.com)\n\n--\nTo stop receiving these emails, open: https://x.test/u/1"
        );
        assert_eq!(r.html, None);
    }

    /// A body that does not show the unsubscribe link gets a footer with it,
    /// in the owner's language; one that shows it is left as written.
    #[test]
    fn a_body_without_the_unsubscribe_link_gets_a_footer() {
        let mut c = content("s", "Hello", Some("<html><body><p>Hello</p></BODY></html>"));
        c.language = Some(crate::Language::parse("ru").unwrap());
        let r = CompiledMessage::compile(&c).unwrap().render(&ANN).unwrap();
        assert!(
            r.text.starts_with("Hello\n\n--\nЧтобы отписаться"),
            "{}",
            r.text
        );
        assert!(r.text.contains("https://x.test/u/1"));
        let html = r.html.unwrap();
        assert!(
            html.starts_with("<html><body><p>Hello</p><p style")
                && html.ends_with("</p></BODY></html>"),
            "{html}"
        );
        assert!(html.contains("нажмите здесь"), "{html}");
        let shown = content(
            "s",
            "Bye: {{ unsubscribe_url }}",
            Some("<a href=\"{{ unsubscribe_url }}\">out</a>"),
        );
        let r = CompiledMessage::compile(&shown)
            .unwrap()
            .render(&ANN)
            .unwrap();
        assert_eq!(r.text, "Bye: https://x.test/u/1");
        assert!(!r.html.unwrap().contains("<p style"));
    }

    #[test]
    fn html_body_escapes_values_but_text_does_not() {
        let c = CompiledMessage::compile(&content(
            "s",
            "{{ name }}",
            Some("<p>{{ name }}</p><a href=\"{{ unsubscribe_url }}\">x</a>"),
        ))
        .unwrap();
        let r = c.render(&ANN).unwrap();
        assert!(r.text.starts_with("Ann <b>\n\n--\n"), "{}", r.text);
        assert_eq!(
            r.html.unwrap(),
            "<p>Ann &lt;b&gt;</p><a href=\"https:&#x2f;&#x2f;x.test&#x2f;u&#x2f;1\">x</a>"
        );
    }

    #[test]
    fn syntax_error_reports_line_and_column() {
        let err = Templates::check("body_text", "Hello\n  {{ name }\nbye").unwrap_err();
        assert_eq!(err.field(), Some("body_text"));
        let msg = err.to_string();
        assert!(msg.contains("line 2"), "{msg}");
        assert!(msg.contains("column"), "{msg}");
    }

    #[test]
    fn unknown_placeholder_is_refused() {
        let err = Templates::check("subject", "Hi {{ nmae }}").unwrap_err();
        assert_eq!(err.field(), Some("subject"));
        assert!(err.to_string().contains("nmae"));
    }

    #[test]
    fn known_placeholders_and_control_flow_pass() {
        Templates::check(
            "body_text",
            "{% if name %}Dear {{ name|upper }}{% endif %} {{ email }} {{ unsubscribe_url }}",
        )
        .unwrap();
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel() {
        let c = CompiledMessage::compile(&content(
            "s",
            "{% for a in range(1000) %}{% for b in range(1000) %}{{ name }}{% endfor %}{% endfor %}",
            None,
        ))
        .unwrap();
        let started = std::time::Instant::now();
        assert!(c.render(&ANN).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn subject_renders_to_one_line() {
        let c = CompiledMessage::compile(&content(
            "{% if name %}\nHi\n{{ name }}{% endif %}",
            "t",
            None,
        ))
        .unwrap();
        assert_eq!(c.render(&ANN).unwrap().subject, "Hi Ann <b>");
    }
}
