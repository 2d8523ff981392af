//! A real SMTP server for tests (feature `test-server`): mailin-embedded on a
//! loopback port, recording every message, with replies that can be scripted
//! per recipient. And a proxy that drops connections, for failure tests.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::{Handler, Response, Server};

/// A message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The raw message.
    pub data: Vec<u8>,
    /// When the message was complete.
    pub arrived_at: std::time::SystemTime,
}

impl Received {
    /// The message parsed (for headers and parts).
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parsable message")
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Replies to RCPT TO for an address, used up one per attempt.
    rcpt: HashMap<String, VecDeque<(u16, String)>>,
    /// Domains throttled: recipients accepted per second at most, and when
    /// the last ones were accepted.
    throttles: HashMap<String, (usize, VecDeque<std::time::Instant>)>,
    /// "Too many" replies given.
    throttled: usize,
}

#[derive(Clone)]
struct Recorder {
    state: Arc<Mutex<State>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Recorder {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        self.to.clear();
        mailin_embedded::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let to = to.trim_matches(['<', '>']).to_lowercase();
        let scripted = self
            .state
            .lock()
            .unwrap()
            .rcpt
            .get_mut(&to)
            .and_then(VecDeque::pop_front);
        if let Some((code, text)) = scripted {
            return Response::custom(code, text);
        }
        {
            let mut state = self.state.lock().unwrap();
            let domain = to.rsplit_once('@').map_or("", |(_, d)| d).to_owned();
            let over = state
                .throttles
                .get_mut(&domain)
                .is_some_and(|(most, last)| {
                    let now = std::time::Instant::now();
                    while last
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
                    {
                        last.pop_front();
                    }
                    if last.len() >= *most {
                        return true;
                    }
                    last.push_back(now);
                    false
                });
            if over {
                state.throttled += 1;
                return Response::custom(
                    421,
                    format!("4.7.0 Too many messages for {domain}, slow down"),
                );
            }
        }
        self.to.push(to);
        mailin_embedded::response::OK
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let r = Received {
            from: self.from.clone(),
            to: self.to.clone(),
            data: std::mem::take(&mut self.data),
            arrived_at: std::time::SystemTime::now(),
        };
        self.state.lock().unwrap().received.push(r);
        mailin_embedded::response::OK
    }
}

/// An SMTP server on `127.0.0.1:<free port>` that accepts everything but what
/// is scripted. It runs on its own threads until the process ends.
#[derive(Clone)]
pub struct TestSmtpServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl TestSmtpServer {
    /// Starts a server.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts a server that offers STARTTLS with a self-signed certificate
    /// for `localhost` (as Debian's stock Postfix does).
    pub fn start_with_starttls() -> Self {
        // The test server's TLS (mailin's rustls) takes the process's default
        // provider; this build links two, so name one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .and_then(|p| p.self_signed(&key))
            .expect("a self-signed certificate");
        let dir = std::env::temp_dir().join(format!(
            "skymailing-test-smtp-{}-{}",
            std::process::id(),
            crate::testing::next_id()
        ));
        std::fs::create_dir_all(&dir).expect("a folder for the certificate");
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).expect("the certificate is written");
        std::fs::write(&key_path, key.serialize_pem()).expect("the key is written");
        Self::start_with(Some(mailin_embedded::SslConfig::SelfSigned {
            cert_path: cert_path.display().to_string(),
            key_path: key_path.display().to_string(),
        }))
    }

    fn start_with(ssl: Option<mailin_embedded::SslConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let handler = Recorder {
            state: state.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        server
            .with_name("test.smtp.local")
            .with_num_threads(128)
            .with_tcp_listener(listener);
        if let Some(ssl) = ssl {
            server.with_ssl(ssl).expect("the certificate loads");
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        TestSmtpServer { addr, state }
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers the next RCPT TO for `address` with `code text` (once per call).
    pub fn reply_to_rcpt(&self, address: &str, code: u16, text: &str) {
        self.state
            .lock()
            .unwrap()
            .rcpt
            .entry(address.to_lowercase())
            .or_default()
            .push_back((code, text.to_owned()));
    }

    /// Answers RCPT TO for addresses at `domain` with `421 4.7.0 Too many
    /// messages` whenever `per_second` were accepted in the last second, as
    /// a large mailbox provider throttles a sender.
    pub fn throttle_domain(&self, domain: &str, per_second: usize) {
        self.state
            .lock()
            .unwrap()
            .throttles
            .insert(domain.to_lowercase(), (per_second, VecDeque::new()));
    }

    /// How many "too many" replies [`TestSmtpServer::throttle_domain`] gave.
    pub fn throttled(&self) -> usize {
        self.state.lock().unwrap().throttled
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// How many messages arrived.
    pub fn count(&self) -> usize {
        self.state.lock().unwrap().received.len()
    }

    /// Waits until `n` messages arrived, or `timeout` passes; returns whether they did.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.count() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.count() >= n
    }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A TCP proxy to `target` that keeps every byte the client sent: what an
/// eavesdropper on the way to the relay would read.
pub struct RecordingProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl RecordingProxy {
    /// Starts the proxy on a free loopback port.
    pub async fn start(target: SocketAddr) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<u8>>> = Arc::default();
        let kept = seen.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut in_r, mut in_w) = inbound.into_split();
                    let (mut out_r, mut out_w) = outbound.into_split();
                    let up = async {
                        let mut buf = [0u8; 8192];
                        while let Ok(n) = in_r.read(&mut buf).await {
                            if n == 0 || out_w.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            kept.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                        let _ = out_w.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut out_r, &mut in_w).await;
                        let _ = in_w.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        RecordingProxy { addr, seen }
    }

    /// `smtp://localhost:<port>` (the name the test certificate is for).
    pub fn url(&self) -> String {
        format!("smtp://localhost:{}", self.addr.port())
    }

    /// Everything the client sent so far.
    pub fn client_bytes(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

/// A TCP proxy to `target` that closes the first `drop_first` connections as
/// soon as they are accepted, then forwards the rest.
pub struct DroppingProxy {
    addr: SocketAddr,
}

impl DroppingProxy {
    /// Starts the proxy on a free loopback port.
    pub async fn start(target: SocketAddr, drop_first: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut seen = 0;
            while let Ok((mut inbound, _)) = listener.accept().await {
                seen += 1;
                if seen <= drop_first {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        DroppingProxy { addr }
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }
}

/// An SMTP server that takes the whole first message and then hangs up
/// instead of answering the final dot: the relay may or may not have queued
/// it, and the sender cannot know. Later connections are answered normally.
/// Every message it read, the cut one included, is kept.
pub struct HangUpAfterData {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl HangUpAfterData {
    /// Starts the server on a free loopback port.
    pub async fn start() -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let kept = received.clone();
        tokio::spawn(async move {
            let mut first = true;
            while let Ok((stream, _)) = listener.accept().await {
                let cut = std::mem::take(&mut first);
                let kept = kept.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read);
                    let _ = write.write_all(b"220 cut.test ESMTP\r\n").await;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-cut.test\r\n250 8BITMIME\r\n",
                            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.0.0 Ok\r\n",
                            "QUIT" => {
                                let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
                                return;
                            }
                            "DATA" => {
                                let _ = write.write_all(b"354 End data with .\r\n").await;
                                let mut data = Vec::new();
                                loop {
                                    line.clear();
                                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                                        return;
                                    }
                                    if line == ".\r\n" {
                                        break;
                                    }
                                    data.extend_from_slice(line.as_bytes());
                                }
                                kept.lock().unwrap().push(data);
                                if cut {
                                    return; // hang up: no reply to the dot
                                }
                                b"250 2.0.0 Ok: queued\r\n"
                            }
                            _ => b"502 5.5.2 Command not recognized\r\n",
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        HangUpAfterData { addr, received }
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message read so far, the cut one first.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}
