//! Before sending: a message rendered as a recipient will see it, and a
//! mailing sent once to its owner's own address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::gate::Gate;
use crate::links::Links;
use crate::policy::{Action, Actor, Target, authorize};
use crate::ports::{
    ClientStore, Clock, Mailer, MailingStore, MessageStore, OutgoingEmail, UserStore,
};
use crate::{
    ClientId, CompiledMessage, Error, Language, MailingId, Message, MessageId, RenderedMessage,
    RunContent, Sender, TemplateContext, UserId, security,
};

/// The recipient a preview without a client is rendered for.
pub const SAMPLE_NAME: &str = "Jane Doe";
/// The address of [`SAMPLE_NAME`].
pub const SAMPLE_EMAIL: &str = "jane.doe@example.com";
/// Test sends one user may make per [`TEST_SEND_WINDOW_MINUTES`].
pub const TEST_SENDS_PER_WINDOW: usize = 5;
/// The window of [`TEST_SENDS_PER_WINDOW`].
pub const TEST_SEND_WINDOW_MINUTES: i64 = 10;

/// Preview and test-send use cases.
#[derive(Clone)]
pub struct PreviewService {
    gate: Gate,
    users: Arc<dyn UserStore>,
    clients: Arc<dyn ClientStore>,
    messages: Arc<dyn MessageStore>,
    mailings: Arc<dyn MailingStore>,
    mailer: Arc<dyn Mailer>,
    links: Arc<dyn Links>,
    clock: Arc<dyn Clock>,
    /// Each user's recent test sends (this process's).
    sent: Arc<Mutex<HashMap<UserId, Vec<DateTime<Utc>>>>>,
}

/// The stores and adapters the previews use.
pub(crate) struct PreviewParts {
    pub users: Arc<dyn UserStore>,
    pub clients: Arc<dyn ClientStore>,
    pub messages: Arc<dyn MessageStore>,
    pub mailings: Arc<dyn MailingStore>,
    pub mailer: Arc<dyn Mailer>,
    pub links: Arc<dyn Links>,
    pub clock: Arc<dyn Clock>,
}

/// Renders a message as a run would, for one recipient (the unsubscribe
/// footer in `language` included).
fn render(
    m: &Message,
    owner: UserId,
    language: Option<Language>,
    to: &TemplateContext<'_>,
) -> Result<RenderedMessage, Error> {
    let content = RunContent {
        mailing_id: None,
        mailing_name: String::new(),
        subject: m.subject.clone(),
        body_text: m.body_text.clone(),
        body_html: m.body_html.clone(),
        nonce: String::new(),
        owner,
        language,
        sender: Sender::default(),
    };
    CompiledMessage::compile(&content)?.render(to)
}

impl PreviewService {
    pub(crate) fn new(parts: PreviewParts, gate: Gate) -> Self {
        PreviewService {
            gate,
            users: parts.users,
            clients: parts.clients,
            messages: parts.messages,
            mailings: parts.mailings,
            mailer: parts.mailer,
            links: parts.links,
            clock: parts.clock,
            sent: Arc::default(),
        }
    }

    /// A message as `client` (one of the actor's clients) would receive it,
    /// or as a sample recipient ([`SAMPLE_NAME`]) would. Its unsubscribe link
    /// is a dummy that unsubscribes no one.
    #[tracing::instrument(name = "previews.message", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn message(
        &self,
        actor: Actor,
        id: MessageId,
        client: Option<ClientId>,
    ) -> Result<RenderedMessage, Error> {
        let (actor, me) = self.gate.admit_user(actor).await?;
        let p = authorize(actor, Action::UseMessages, Target::None)?;
        let m = self.messages.message(id).await?.ok_or(Error::NotFound)?;
        let (name, email) = match client {
            Some(c) => {
                let c = self.clients.client(p.id, c).await?.ok_or(Error::NotFound)?;
                (c.full_name, c.email.to_string())
            }
            None => (SAMPLE_NAME.to_owned(), SAMPLE_EMAIL.to_owned()),
        };
        let language = me.and_then(|u| u.language);
        let unsubscribe_url = self.links.unsubscribe("preview");
        render(
            &m,
            p.id,
            language,
            &TemplateContext {
                name: &name,
                email: &email,
                unsubscribe_url: &unsubscribe_url,
            },
        )
    }

    /// Sends a mailing's message once to the actor's own address, rendered
    /// for them, the subject prefixed `[Test]`; no run is recorded. At most
    /// [`TEST_SENDS_PER_WINDOW`] per user per [`TEST_SEND_WINDOW_MINUTES`]
    /// minutes (`TooManyRequests` beyond). Returns the address it went to.
    #[tracing::instrument(name = "previews.test_send", level = "debug", skip_all, fields(actor = ?actor, id = %id))]
    pub async fn test_send(&self, actor: Actor, id: MailingId) -> Result<String, Error> {
        let (actor, me) = self.gate.admit_user(actor).await?;
        let me = me.ok_or(Error::Unauthenticated)?;
        let mailing = self.mailings.mailing(id).await?.ok_or(Error::NotFound)?;
        authorize(actor, Action::ViewMailing, Target::OwnedBy(mailing.owner))?;
        authorize(
            actor,
            Action::ManageMailings,
            Target::OwnedBy(mailing.owner),
        )?;
        let owner = if mailing.owner == me.id {
            me.clone()
        } else {
            self.users
                .user(mailing.owner)
                .await?
                .ok_or(Error::NotFound)?
        };
        let (from_name, reply_to) = Sender::effective(&mailing.sender, &owner);
        let m = self
            .messages
            .message(mailing.message_id)
            .await?
            .ok_or(Error::NotFound)?;
        self.take_test_slot(me.id)?;
        let unsubscribe_url = self.links.unsubscribe("preview");
        let rendered = render(
            &m,
            mailing.owner,
            me.language.clone(),
            &TemplateContext {
                name: me.name.as_str(),
                email: me.email.as_str(),
                unsubscribe_url: &unsubscribe_url,
            },
        )?;
        let email = OutgoingEmail {
            to: me.email.clone(),
            to_name: me.name.to_string(),
            from_name: Some(from_name.to_string()),
            reply_to: Some(reply_to),
            subject: format!("[Test] {}", rendered.subject),
            text: rendered.text,
            html: rendered.html,
            message_id: format!("<test.{}@{}>", security::random_hex(16), self.links.host()),
            unsubscribe_url: None,
            return_path: None,
            feedback_id: None,
        };
        self.mailer.send(&email).await.map_err(|e| {
            // The slot stays taken: a failing relay is not retried in a loop.
            tracing::warn!(error = %e, "a test send failed");
            Error::Internal(format!("the test message could not be sent: {e}"))
        })?;
        Ok(me.email.to_string())
    }

    /// Counts a test send against the user's allowance, or refuses it.
    fn take_test_slot(&self, user: UserId) -> Result<(), Error> {
        let now = self.clock.now();
        let window = Duration::minutes(TEST_SEND_WINDOW_MINUTES);
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.retain(|_, times| {
            times.retain(|t| *t > now - window);
            !times.is_empty()
        });
        let times = sent.entry(user).or_default();
        if times.len() >= TEST_SENDS_PER_WINDOW {
            let free_at = times[0] + window;
            return Err(Error::TooManyRequests {
                retry_after_secs: u64::try_from((free_at - now).num_seconds().max(1)).unwrap_or(1),
            });
        }
        times.push(now);
        Ok(())
    }
}
