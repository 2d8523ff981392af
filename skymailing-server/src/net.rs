//! Who is asking, and under which name: the client's address (through
//! trusted proxies only, from the `X-Forwarded-For` they append to) and the `Host` the request names, checked against the
//! allowed hosts so that a page on another origin cannot reach this service
//! through DNS rebinding.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};

/// The client's address as this service sees it, put on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientIp(pub IpAddr);

/// The client address and allowed-hosts rules of one service.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    /// Host names (lower case, without a port) this service answers to;
    /// empty means any.
    pub allowed_hosts: Vec<String>,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers name the client.
    pub trusted_proxies: Vec<IpNet>,
}

/// The hosts a service answers to when none are configured: its base URL's
/// host and this machine's names.
pub fn default_allowed_hosts(base_url: &str) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    let host = url_host(base_url);
    if !host.is_empty() && !hosts.contains(&host) {
        hosts.push(host);
    }
    hosts
}

/// Parses `--trusted-proxies`: CIDRs or single addresses, comma-separated.
pub fn parse_proxies(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            IpNet::from_str(s)
                .or_else(|_| IpAddr::from_str(s).map(IpNet::from))
                .map_err(|_| format!("`{s}` is not an address or a CIDR (such as 10.0.0.0/8)"))
        })
        .collect()
}

/// The host of a URL: lower case, without the port.
pub(crate) fn url_host(url: &str) -> String {
    host_of(url.split_once("://").map_or(url, |(_, r)| r))
}

/// The host part of an authority (`Host` header value): lower case, without
/// the port; an IPv6 literal keeps its brackets.
fn host_of(authority: &str) -> String {
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if authority.starts_with('[') {
        authority
            .find(']')
            .map_or(authority, |end| &authority[..=end])
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl NetPolicy {
    /// The client's address: the connecting peer, or — when the peer is a
    /// trusted proxy — the last address in the forwarding headers that is not
    /// itself a trusted proxy.
    pub(crate) fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip())?;
        Some(self.client_behind(peer, req.headers()))
    }

    fn client_behind(&self, peer: IpAddr, headers: &poem::http::HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // Only `X-Forwarded-For`, which proxies append to: a `Forwarded`
        // header the client sent would pass most proxies untouched, and
        // reading it would let the client name its own address.
        let mut chain: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(value) = value.to_str() else { continue };
            chain.extend(
                value
                    .split(',')
                    .filter_map(|s| parse_node(s.trim()))
                    .map(canonical),
            );
        }
        // Right to left: each trusted proxy appended the address it saw.
        chain
            .into_iter()
            .rev()
            .find(|ip| !self.trusts(*ip))
            .unwrap_or(peer)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// Whether the request names an allowed host (a request naming none,
    /// which no browser sends, is let through).
    fn host_allowed(&self, req: &Request) -> bool {
        if self.allowed_hosts.is_empty() {
            return true;
        }
        let named = req
            .headers()
            .get(poem::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.to_string()));
        match named {
            None => true,
            Some(authority) => self.allowed_hosts.contains(&host_of(&authority)),
        }
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4
/// address it is, so proxy ranges and limits match it.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An address in a forwarding header: `203.0.113.9`, `[2001:db8::1]:4711`,
/// `203.0.113.9:4711`; `unknown` and obfuscated names are none.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = IpAddr::from_str(s) {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest
            .split(']')
            .next()
            .and_then(|ip| IpAddr::from_str(ip).ok());
    }
    s.rsplit_once(':')
        .and_then(|(ip, _)| IpAddr::from_str(ip).ok())
}

/// Probes a load balancer sends by address, whatever its `Host`.
const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Puts the client's address on the request and refuses unknown hosts with 400.
pub(crate) async fn guard<E: Endpoint>(
    ep: std::sync::Arc<E>,
    mut req: Request,
    policy: std::sync::Arc<NetPolicy>,
) -> poem::Result<Response> {
    if !PROBES.contains(&req.uri().path()) && !policy.host_allowed(&req) {
        return Ok((
            StatusCode::BAD_REQUEST,
            "unknown host: add it to --allowed-hosts\n",
        )
            .into_response());
    }
    if let Some(ip) = policy.client_ip(&req) {
        req.extensions_mut().insert(ClientIp(ip));
    }
    Ok(ep.call(req).await?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder();
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.finish()
    }

    /// The client behind `peer`, as `client_ip` finds it.
    fn client(p: &NetPolicy, peer: &str, headers: &[(&str, &str)]) -> IpAddr {
        p.client_behind(
            peer.parse::<std::net::SocketAddr>().unwrap().ip(),
            req(headers).headers(),
        )
    }

    #[test]
    fn forwarding_headers_count_only_behind_a_trusted_proxy() {
        let none = NetPolicy::default();
        let xff = [("x-forwarded-for", "203.0.113.7")];
        assert_eq!(
            client(&none, "198.51.100.1:5000", &xff),
            "198.51.100.1".parse::<IpAddr>().unwrap(),
            "without --trusted-proxies the header is ignored"
        );
        let behind = NetPolicy {
            trusted_proxies: parse_proxies("10.0.0.0/8, 192.0.2.1").unwrap(),
            ..NetPolicy::default()
        };
        assert_eq!(
            client(&behind, "10.1.2.3:5000", &xff),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // A client cannot forge its way past the proxy: the proxy appends
        // what it saw, and the last untrusted address counts.
        let forged = [("x-forwarded-for", "127.0.0.1, 203.0.113.7, 10.9.9.9")];
        assert_eq!(
            client(&behind, "192.0.2.1:5000", &forged),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // A `Forwarded` header is the client's own word: ignored.
        let forwarded = [("forwarded", "for=127.0.0.1")];
        assert_eq!(
            client(&behind, "10.0.0.1:5000", &forwarded),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        let v6 = [("x-forwarded-for", "[2001:db8::7]:4711")];
        assert_eq!(
            client(&behind, "10.0.0.1:5000", &v6),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        // An IPv4 proxy seen on an IPv6 socket is still the trusted proxy.
        assert_eq!(
            client(&behind, "[::ffff:10.0.0.1]:5000", &xff),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client(&behind, "10.0.0.1:5000", &[]),
            "10.0.0.1".parse::<IpAddr>().unwrap(),
            "no header: the proxy itself"
        );
        assert!(parse_proxies("10.0.0.0/33").is_err());
        assert!(parse_proxies("proxy.example").is_err());
    }

    #[test]
    fn hosts_are_compared_without_port_or_case() {
        let p = NetPolicy {
            allowed_hosts: default_allowed_hosts("https://Mail.Example.com/"),
            ..NetPolicy::default()
        };
        let host = |h: &str| p.host_allowed(&req(&[("host", h)]));
        assert!(host("mail.example.com"));
        assert!(host("MAIL.example.com:443"));
        assert!(host("localhost:8000"));
        assert!(host("127.0.0.1:8000"));
        assert!(host("[::1]:8000"));
        assert!(!host("rebind.attacker.example:8000"));
        assert!(!host("mail.example.com.attacker.example"));
        assert!(!host("127.0.0.2"));
    }
}
