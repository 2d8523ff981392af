//! Connections that cannot be held hostage: a cap on connections in all and
//! per client address, and deadlines a slow client cannot stretch by
//! trickling bytes.
//!
//! poem (over hyper without a timer) has only an idle timeout that any byte
//! resets, so a client sending one byte of a request line every few seconds,
//! or nothing at all, holds a connection for ever. [`GuardedAcceptor`] wraps
//! the listener: each connection is refused at once past the caps, and its
//! stream enforces three deadlines that activity does not reset:
//! - **idle**: a connection that has no request under way must start one
//!   within `idle_timeout` (a silent socket, or keep-alive between requests);
//! - **header**: once a request starts, its header must be complete within
//!   `header_timeout`;
//! - **request**: the whole request (body included) must have been read and
//!   answered (the first byte of the response written) within
//!   `request_timeout`; a response that the client does not read within it
//!   ends the connection too.

use std::collections::HashMap;
use std::future::Future as _;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use ipnet::IpNet;
use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Limits on connections.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client address (trusted proxies
    /// are not counted: they carry everyone's connections).
    pub max_per_address: usize,
    /// Time to start a request on an open connection.
    pub idle_timeout: Duration,
    /// Time to send a request's header once it started.
    pub header_timeout: Duration,
    /// Time from a request's first byte to the first byte of its answer.
    pub request_timeout: Duration,
    /// Peers whose connections are not counted per address.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 2048,
            max_per_address: 128,
            idle_timeout: Duration::from_secs(20),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// A listener's acceptor with the [`ConnLimits`] applied.
pub struct GuardedAcceptor<A> {
    inner: A,
    limits: Arc<ConnLimits>,
    counts: Arc<Mutex<Counts>>,
}

impl<A: Acceptor> GuardedAcceptor<A> {
    /// Wraps `inner`.
    pub fn new(inner: A, limits: ConnLimits) -> Self {
        GuardedAcceptor {
            inner,
            limits: Arc::new(limits),
            counts: Arc::default(),
        }
    }
}

/// Gives a connection's place back when the connection ends.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    address: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        c.total -= 1;
        if let Some(ip) = self.address
            && let Some(n) = c.per_address.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                c.per_address.remove(&ip);
            }
        }
    }
}

impl<A: Acceptor> Acceptor for GuardedAcceptor<A> {
    type Io = Guarded<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        {
            loop {
                let (io, local, remote, scheme) = self.inner.accept().await?;
                let peer = remote
                    .as_socket_addr()
                    .map(|a| crate::net::canonical(a.ip()));
                // IPv6 counts per /64, as the rate limits do: one subscriber's
                // network, where addresses are free.
                let counted = peer
                    .filter(|ip| !self.limits.trusted_proxies.iter().any(|n| n.contains(ip)))
                    .map(per_network);
                let slot = {
                    let mut c = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
                    let from_here =
                        counted.map_or(0, |ip| c.per_address.get(&ip).copied().unwrap_or(0));
                    if c.total >= self.limits.max_connections
                        || from_here >= self.limits.max_per_address
                    {
                        None
                    } else {
                        c.total += 1;
                        if let Some(ip) = counted {
                            *c.per_address.entry(ip).or_default() += 1;
                        }
                        Some(Slot {
                            counts: self.counts.clone(),
                            address: counted,
                        })
                    }
                };
                match slot {
                    Some(slot) => {
                        let io = Guarded::new(io, self.limits.clone(), slot);
                        return Ok((io, local, remote, scheme));
                    }
                    None => {
                        metrics::counter!("skymailing_http_connections_refused_total").increment(1);
                        tracing::debug!(?peer, "connection refused: over the connection limits");
                        drop(io);
                    }
                }
            }
        }
    }
}

/// The address a connection counts under: IPv4 itself, IPv6 its /64.
fn per_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request under way.
    Idle,
    /// A request started; its header is not complete yet.
    Header,
    /// The header is in; the body and the answer are under way.
    Request,
}

/// A connection's stream with the deadlines of [`ConnLimits`].
pub struct Guarded<Io> {
    io: Io,
    limits: Arc<ConnLimits>,
    phase: Phase,
    /// The end of the header is `\r\n\r\n`: how much of it the last bytes matched.
    matched: u8,
    /// The current phase's header deadline, and the request's.
    header_deadline: Pin<Box<Sleep>>,
    request_deadline: Pin<Box<Sleep>>,
    /// Set while a write waits for the client to read: a client that stops
    /// reading its answers holds the connection as surely as one that stops
    /// sending.
    write_deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes read so far (to recognise an HTTP/2 preface at the start).
    read_so_far: usize,
    _slot: Slot,
}

impl<Io> Guarded<Io> {
    fn new(io: Io, limits: Arc<ConnLimits>, slot: Slot) -> Self {
        let idle = Instant::now() + limits.idle_timeout;
        Guarded {
            io,
            phase: Phase::Idle,
            matched: 0,
            header_deadline: Box::pin(tokio::time::sleep_until(idle)),
            request_deadline: Box::pin(tokio::time::sleep_until(idle)),
            write_deadline: None,
            read_so_far: 0,
            limits,
            _slot: slot,
        }
    }

    /// Whether a deadline of the current phase has passed (registering the
    /// caller's waker on them otherwise).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let header =
            self.phase != Phase::Request && self.header_deadline.as_mut().poll(cx).is_ready();
        let request =
            self.phase != Phase::Idle && self.request_deadline.as_mut().poll(cx).is_ready();
        header || request
    }

    /// Follows the request cycle through the bytes just read. `false` for a
    /// connection that must end: one speaking HTTP/2 without TLS (its PINGs
    /// would keep it "answered" for ever; the service speaks HTTP/1.1).
    fn saw(&mut self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true;
        }
        const H2: &[u8] = b"PRI * HTTP/2.0";
        if self.read_so_far < H2.len() {
            let n = (H2.len() - self.read_so_far).min(bytes.len());
            let start = &H2[self.read_so_far..self.read_so_far + n];
            if bytes[..n] == *start && self.read_so_far + n == H2.len() {
                return false;
            }
        }
        self.read_so_far = self.read_so_far.saturating_add(bytes.len());
        if self.phase == Phase::Idle {
            let now = Instant::now();
            self.phase = Phase::Header;
            self.matched = 0;
            self.header_deadline
                .as_mut()
                .reset(now + self.limits.header_timeout);
            self.request_deadline
                .as_mut()
                .reset(now + self.limits.request_timeout);
        }
        if self.phase == Phase::Header {
            const END: &[u8; 4] = b"\r\n\r\n";
            for &b in bytes {
                self.matched = if b == END[self.matched as usize] {
                    self.matched + 1
                } else if b == b'\r' {
                    1
                } else {
                    0
                };
                if self.matched == 4 {
                    self.phase = Phase::Request;
                    break;
                }
            }
        }
        true
    }

    /// Follows a write: the answer goes on, or a write has waited for the
    /// client to read for longer than a whole request may take.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                self.write_deadline = None;
                if n > 0 {
                    self.answered();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => {
                let timeout = self.limits.request_timeout;
                let deadline = self
                    .write_deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(timed_out()));
                }
                Poll::Pending
            }
            other => other,
        }
    }

    /// The answer is being written: the next bytes read begin a new
    /// request, and the idle time counts from the last byte written (a long
    /// download is not idle).
    fn answered(&mut self) {
        self.phase = Phase::Idle;
        self.header_deadline
            .as_mut()
            .reset(Instant::now() + self.limits.idle_timeout);
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client was too slow")
}

impl<Io: AsyncRead + Unpin> AsyncRead for Guarded<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.saw(&buf.filled()[before..]) {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "HTTP/2 without TLS is not served",
                    )))
                }
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Guarded<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.after_write(cx, written)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
