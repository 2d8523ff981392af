//! DKIM signatures checked by an independent verifier (`mail-auth`, given
//! the public key through its resolver cache): as the outbox writes them,
//! and after the message went through a real SMTP server.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use skymailing_core::EmailAddress;
use skymailing_core::ports::{Mailer, OutgoingEmail};
use skymailing_smtp::testing::TestSmtpServer;
use skymailing_smtp::{DkimAlgorithm, DkimSigner, Outbox, SmtpConfig, SmtpMailer, generate_key};

/// The DNS a verifier would ask: one TXT record.
#[derive(Default)]
struct Dns(Mutex<HashMap<String, Txt>>);

impl ResolverCache<String, Txt> for Dns {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }
    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        String: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }
    fn insert(&self, key: String, value: Txt, _: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

fn email() -> OutgoingEmail {
    OutgoingEmail {
        to: EmailAddress::parse("ann@example.com").unwrap(),
        to_name: "Анна".into(),
        from_name: None,
        reply_to: None,
        subject:
            "Новости: a long subject line that lettre will fold when it encodes it for the header"
                .into(),
        text: "Hello,\n\ntrailing spaces   \nand a line.\n".into(),
        html: Some("<p>Hello</p>".into()),
        message_id: "<n.1.2@shop.example>".into(),
        unsubscribe_url: Some("https://shop.example/unsubscribe/tok".into()),
        return_path: Some(
            EmailAddress::parse("bounces+2-0123456789abcdef@b.shop.example").unwrap(),
        ),
        feedback_id: Some("1:2:shop.example".into()),
    }
}

/// Checks every signature of `raw` against the published key.
async fn verify(raw: &[u8], selector: &str, domain: &str, dns_value: &str) -> Vec<DkimResult> {
    let dns = Dns::default();
    let name = format!("{selector}._domainkey.{domain}");
    for key in [format!("{name}."), name] {
        let record = DomainKey::parse(dns_value.as_bytes()).expect("the printed record parses");
        dns.insert(key, Txt::from(record), Instant::now());
    }
    let auth =
        MessageAuthenticator::new(ResolverConfig::default(), ResolverOpts::default()).unwrap();
    let message = AuthenticatedMessage::parse(raw).expect("a message");
    auth.verify_dkim(Parameters::new(&message).with_txt_cache(&dns))
        .await
        .into_iter()
        .map(|o| o.result().clone())
        .collect()
}

fn signed_headers(raw: &[u8]) -> String {
    let m = mail_parser::MessageParser::default().parse(raw).unwrap();
    m.header_raw("DKIM-Signature").unwrap().to_owned()
}

#[tokio::test]
async fn outbox_mail_verifies_with_both_algorithms() {
    for algorithm in [DkimAlgorithm::Rsa, DkimAlgorithm::Ed25519] {
        let key = generate_key(algorithm).unwrap();
        let signer = DkimSigner::from_pem(&key.private_pem, "s1", "shop.example").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), "Shop <news@mail.shop.example>".parse().unwrap())
            .await
            .unwrap()
            .with_dkim(Some(Arc::new(signer)));
        outbox.send(&email()).await.unwrap();
        let file = outbox.list(1).await.unwrap().remove(0).file;
        let raw = std::fs::read(dir.path().join(file)).unwrap();
        let results = verify(&raw, "s1", "shop.example", &key.dns_value).await;
        assert_eq!(results, vec![DkimResult::Pass], "{algorithm:?}");
        let sig = signed_headers(&raw);
        for h in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "mime-version",
            "content-type",
            "list-unsubscribe",
            "list-unsubscribe-post",
            "feedback-id",
        ] {
            assert!(sig.contains(h), "{h} is not signed: {sig}");
        }
        assert!(sig.contains("c=relaxed/relaxed"), "{sig}");
        // A changed subject no longer verifies.
        let tampered = String::from_utf8_lossy(&raw).replacen("Subject: ", "Subject: X", 1);
        let results = verify(tampered.as_bytes(), "s1", "shop.example", &key.dns_value).await;
        assert!(!results.contains(&DkimResult::Pass), "{results:?}");
    }
}

#[tokio::test]
async fn relayed_mail_verifies_and_goes_to_its_return_path() {
    let server = TestSmtpServer::start();
    let key = generate_key(DkimAlgorithm::Rsa).unwrap();
    let signer = DkimSigner::from_pem(&key.private_pem, "s1", "shop.example").unwrap();
    let mailer = SmtpMailer::new(&SmtpConfig {
        url: server.url(),
        from: "Shop <news@shop.example>".parse().unwrap(),
        pool_size: 1,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
    .with_dkim(Some(Arc::new(signer)));
    mailer.send(&email()).await.unwrap();
    let got = server.received();
    assert_eq!(
        got[0].from, "bounces+2-0123456789abcdef@b.shop.example",
        "the envelope sender is the delivery's return path"
    );
    let results = verify(&got[0].data, "s1", "shop.example", &key.dns_value).await;
    assert_eq!(results, vec![DkimResult::Pass]);
}
