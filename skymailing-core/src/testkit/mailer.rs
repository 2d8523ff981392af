//! A mailer that records what it was asked to send, with scriptable failures.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::ports::{Mailer, OutgoingEmail, SendError};

/// One scripted answer for a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scripted {
    /// Accept the message.
    Accept,
    /// Refuse with a 5xx reply.
    Permanent(String),
    /// Refuse with a 4xx reply.
    Transient(String),
    /// Fail without a reply.
    Connection(String),
    /// Wait, then accept.
    Slow(Duration),
}

/// Records every email it accepts. Answers for an address can be scripted with
/// [`RecordingMailer::script`]; unscripted sends are accepted.
#[derive(Debug)]
pub struct RecordingMailer {
    sent: Mutex<Vec<OutgoingEmail>>,
    attempts: Mutex<Vec<(OutgoingEmail, Result<String, SendError>)>>,
    script: Mutex<HashMap<String, VecDeque<Scripted>>>,
    delay: Mutex<Option<Duration>>,
    count: watch::Sender<usize>,
    in_flight: watch::Sender<usize>,
    max_in_flight: AtomicUsize,
    gate_open: watch::Sender<bool>,
}

impl Default for RecordingMailer {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordingMailer {
    /// A mailer that accepts everything.
    pub fn new() -> Self {
        RecordingMailer {
            sent: Mutex::new(Vec::new()),
            attempts: Mutex::new(Vec::new()),
            script: Mutex::new(HashMap::new()),
            delay: Mutex::new(None),
            count: watch::Sender::new(0),
            in_flight: watch::Sender::new(0),
            max_in_flight: AtomicUsize::new(0),
            gate_open: watch::Sender::new(true),
        }
    }

    /// Holds every send (those under way and new ones) until [`release`](Self::release):
    /// a relay that has stopped answering, for as long as a test needs.
    pub fn hold(&self) {
        self.gate_open.send_replace(false);
    }

    /// Lets held sends go on.
    pub fn release(&self) {
        self.gate_open.send_replace(true);
    }

    /// Sends in progress now.
    pub fn in_flight(&self) -> usize {
        *self.in_flight.borrow()
    }

    /// Waits until at least `n` sends are in progress at once, or `timeout`
    /// passes; returns whether they were.
    pub async fn wait_for_in_flight(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.in_flight.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n))
            .await
            .is_ok()
    }

    /// Queues answers for sends to `address`, used one per send, in order.
    pub fn script(&self, address: &str, answers: impl IntoIterator<Item = Scripted>) {
        self.script
            .lock()
            .unwrap()
            .entry(address.to_lowercase())
            .or_default()
            .extend(answers);
    }

    /// Makes every send wait this long first (a slow relay).
    pub fn set_delay(&self, delay: Option<Duration>) {
        *self.delay.lock().unwrap() = delay;
    }

    /// Emails accepted so far, in order.
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent.lock().unwrap().clone()
    }

    /// Emails accepted for one address.
    pub fn sent_to(&self, address: &str) -> Vec<OutgoingEmail> {
        let a = address.to_lowercase();
        self.sent()
            .into_iter()
            .filter(|e| e.to.as_str() == a)
            .collect()
    }

    /// Every send attempt with its answer.
    pub fn attempts(&self) -> Vec<(OutgoingEmail, Result<String, SendError>)> {
        self.attempts.lock().unwrap().clone()
    }

    /// The most sends that were in progress at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` emails were accepted, or `timeout` passes.
    /// Returns whether they were.
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c >= n))
            .await
            .is_ok()
    }

    /// Waits until at least `n` emails to `address` were accepted, or `timeout`
    /// passes (account emails are sent in the background). Returns whether they were.
    pub async fn wait_for_sent_to(&self, address: &str, n: usize, timeout: Duration) -> bool {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|_| self.sent_to(address).len() >= n))
            .await
            .is_ok()
    }

    /// The first link containing `token=` in the last email to `address`.
    pub fn last_link(&self, address: &str) -> Option<String> {
        let mail = self.sent_to(address).pop()?;
        mail.text
            .split_whitespace()
            .find(|w| w.contains("token="))
            .map(str::to_owned)
    }

    /// The token in the last emailed link to `address`.
    pub fn last_token(&self, address: &str) -> Option<String> {
        let link = self.last_link(address)?;
        link.split_once("token=").map(|(_, t)| t.to_owned())
    }
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let mut now_in_flight = 0;
        self.in_flight.send_modify(|n| {
            *n += 1;
            now_in_flight = *n;
        });
        self.max_in_flight
            .fetch_max(now_in_flight, Ordering::SeqCst);
        let mut gate = self.gate_open.subscribe();
        // The sender lives as long as `self`: this cannot fail.
        let _ = gate.wait_for(|open| *open).await;
        let result = self.answer(email).await;
        self.in_flight.send_modify(|n| *n -= 1);
        result
    }
}

impl RecordingMailer {
    async fn answer(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let delay = *self.delay.lock().unwrap();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let next = self
            .script
            .lock()
            .unwrap()
            .get_mut(email.to.as_str())
            .and_then(VecDeque::pop_front);
        let result = match next.unwrap_or(Scripted::Accept) {
            Scripted::Accept => Ok(format!("250 2.0.0 Ok: queued as {}", email.message_id)),
            Scripted::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok("250 2.0.0 Ok: queued (slowly)".to_owned())
            }
            Scripted::Permanent(reply) => Err(SendError::Permanent { reply }),
            Scripted::Transient(reply) => Err(SendError::Transient { reply }),
            Scripted::Connection(detail) => Err(SendError::Connection { detail }),
        };
        self.attempts
            .lock()
            .unwrap()
            .push((email.clone(), result.clone()));
        if result.is_ok() {
            let n = {
                let mut sent = self.sent.lock().unwrap();
                sent.push(email.clone());
                sent.len()
            };
            self.count.send_replace(n);
        }
        result
    }
}
