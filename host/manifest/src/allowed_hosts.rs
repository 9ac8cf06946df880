//! `allowed_outbound_hosts`: which network destinations a component may reach.
//!
//! Ported from Spin's `crates/outbound-networking-config/src/allowed_hosts.rs`
//! (`AllowedHostConfig::parse`, `SchemeConfig`, `HostConfig`, `PortConfig`):
//!
//! - each entry is `scheme://host[:port]`; the scheme is required (`*` for any);
//! - the host is a name, an IP address (IPv6 in brackets), `*` (any), `*.example.com` (any
//!   subdomain, not the domain itself), a CIDR range such as `127.0.0.0/24`, or `self`;
//! - the port is a number, a range `4000..5000` (end excluded, as Spin's `Range`), `*`, or absent
//!   for the scheme's well-known port (http 80, https 443, redis 6379, postgres 5432, mysql 3306,
//!   mqtt 1883; other schemes need one);
//! - an empty path (`https://example.com/`) is allowed, any other path is refused;
//! - `{{ var }}` templates are resolved from application variables before parsing, so a
//!   variable may hold a whole entry such as `http://127.0.0.1:5000`;
//! - `"insecure:allow-all"` alone is refused with Spin's advice to write `*://*:*`.
//!
//! Service chaining (`http://origin.spin.internal`, `http://*.spin.internal`) needs nothing
//! special: it is an ordinary host check on `NAME.spin.internal`, port 80.

use std::net::IpAddr;

/// The parsed `allowed_outbound_hosts` of one component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
}

/// One parsed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AllowedHost {
    original: String,
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`, kept as `.example.com`.
    AnySubdomain(String),
    ToSelf,
    Exact(String),
    Cidr(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Port(u16),
    /// `start..end`, end excluded.
    Range(u16, u16),
}

const GUIDE: &str = "https://spinframework.dev/v3/http-outbound#granting-http-permissions-to-components";

impl AllowedHost {
    /// Parses one entry (templates already resolved). The error says what is wrong.
    pub(crate) fn parse(entry: &str) -> Result<Self, String> {
        let url = entry.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(match url {
                "*" | ":" | "" | "?" => format!(
                    "{url:?} is not an allowed outbound host format: hosts are written <scheme>://<host>[:<port>], with '*' wildcards allowed for each (to allow all outbound networking, '*://*:*' obviates all network sandboxing; see {GUIDE})"
                ),
                _ => format!("{url:?} does not contain a scheme (e.g., 'http://' or '*://')"),
            });
        };
        let (host, rest) = rest.rsplit_once(':').unwrap_or((rest, ""));
        let port = match rest.split_once('/') {
            Some((_, path)) if !path.is_empty() => return Err(format!("{url:?} has a path but is not allowed to")),
            Some((port, _)) => port,
            None => rest,
        };
        Ok(AllowedHost {
            scheme: parse_scheme(scheme)?,
            host: parse_host(host)?,
            port: parse_port(port, scheme)?,
            original: entry.to_owned(),
        })
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.scheme.as_deref().is_none_or(|s| s == scheme) && self.host.allows(host) && self.port.allows(port)
    }
}

fn parse_scheme(scheme: &str) -> Result<Option<String>, String> {
    if scheme == "*" {
        return Ok(None);
    }
    if scheme.starts_with('{') {
        return Err("scheme lists are not yet supported".into());
    }
    if scheme.chars().any(|c| !c.is_alphabetic()) {
        return Err(format!("scheme {scheme:?} contains non alphabetic character"));
    }
    Ok(Some(scheme.to_owned()))
}

fn parse_host(host: &str) -> Result<HostPattern, String> {
    let host = host.trim();
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if host == "self" || host == "self.alt" {
        return Ok(HostPattern::ToSelf);
    }
    if host.starts_with('{') {
        return Err("host lists are not yet supported".into());
    }
    if let Some(net) = parse_cidr(host) {
        return Ok(net);
    }
    if matches!(host.split('/').nth(1), Some(path) if !path.is_empty()) {
        return Err("hosts must not contain paths".into());
    }
    if let Some(domain) = host.strip_prefix("*.") {
        if domain.contains('*') {
            return Err(format!("Invalid allowed host {host}: wildcards are allowed only as prefixes"));
        }
        return Ok(HostPattern::AnySubdomain(format!(".{domain}")));
    }
    if host.contains('*') {
        return Err(format!("Invalid allowed host {host}: wildcards are allowed only as subdomains"));
    }
    Ok(HostPattern::Exact(host.trim_end_matches('/').to_owned()))
}

/// `addr/prefix`, host bits dropped (Spin uses `IpNetwork::from_str_truncate`).
fn parse_cidr(host: &str) -> Option<HostPattern> {
    let (addr, prefix) = host.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then(|| HostPattern::Cidr(truncate(addr, prefix), prefix))
}

fn truncate(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

fn parse_port(port: &str, scheme: &str) -> Result<PortPattern, String> {
    if port.is_empty() {
        return well_known_port(scheme)
            .map(PortPattern::Port)
            .ok_or_else(|| format!("no port was provided and the scheme {scheme:?} does not have a known default port number"));
    }
    if port == "*" {
        return Ok(PortPattern::Any);
    }
    if port.starts_with('{') {
        return Err("port lists are not yet supported".into());
    }
    if let Some((start, end)) = port.split_once("..") {
        let n = |s: &str| s.parse::<u16>().map_err(|_| format!("port range {port:?} contains non-number"));
        return Ok(PortPattern::Range(n(start)?, n(end)?));
    }
    port.parse().map(PortPattern::Port).map_err(|_| format!("port {port:?} is not a number"))
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl HostPattern {
    /// `host` as a URL parser gives it: lowercase, IPv6 in brackets.
    fn allows(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::AnySubdomain(suffix) => host.ends_with(suffix.as_str()),
            HostPattern::Exact(h) => h == host,
            HostPattern::ToSelf => false,
            // Spin parses the bracketed form as an IpAddr, which never succeeds for IPv6, so
            // its IPv6 ranges match nothing; here the brackets are removed first.
            HostPattern::Cidr(net, prefix) => {
                let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
                match bare.parse::<IpAddr>() {
                    Ok(ip) if ip.is_ipv4() == net.is_ipv4() => truncate(ip, *prefix) == *net,
                    _ => false,
                }
            }
        }
    }
}

impl PortPattern {
    fn allows(&self, port: u16) -> bool {
        match self {
            PortPattern::Any => true,
            PortPattern::Port(p) => *p == port,
            PortPattern::Range(start, end) => (*start..*end).contains(&port),
        }
    }
}

impl AllowedHosts {
    pub(crate) fn new(entries: Vec<AllowedHost>) -> Self {
        AllowedHosts { entries }
    }

    /// Whether a request to `scheme://host:port` is allowed. `port` is the explicit port or the
    /// scheme's default (the caller knows which request it is making). The scheme and host are
    /// compared as a URL parser would give them: lowercase, IPv6 in brackets (a bare IPv6
    /// address is bracketed here).
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let mut host = host.to_ascii_lowercase();
        if host.parse::<std::net::Ipv6Addr>().is_ok() {
            host = format!("[{host}]");
        }
        self.entries.iter().any(|e| e.allows(&scheme, &host, port))
    }

    /// Whether requests to `http://NAME.spin.internal` are allowed (service chaining): by
    /// `http://NAME.spin.internal`, `http://*.spin.internal` or any wider entry (`*://*:*`).
    pub fn allows_component(&self, name: &str) -> bool {
        self.allows("http", &format!("{name}.spin.internal"), 80)
    }

    /// Whether requests without a host (to the app itself) are allowed for this scheme: an
    /// entry with host `self` or `*` (Spin's `allows_relative_url`).
    pub fn allows_self(&self, scheme: &str) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        self.entries
            .iter()
            .any(|e| e.scheme.as_deref().is_none_or(|s| s == scheme) && matches!(e.host, HostPattern::Any | HostPattern::ToSelf))
    }

    /// The entries as written (templates resolved), for logs and error messages.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.original.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> AllowedHosts {
        AllowedHosts::new(list.iter().map(|h| AllowedHost::parse(h).unwrap()).collect())
    }

    #[test]
    fn spin_parse_vectors() {
        let p = |s| AllowedHost::parse(s);
        assert_eq!(p("http://spin.fermyon.dev").unwrap().port, PortPattern::Port(80));
        assert_eq!(p("http://spin.fermyon.dev/").unwrap().host, HostPattern::Exact("spin.fermyon.dev".into()));
        assert_eq!(p("https://spin.fermyon.dev").unwrap().port, PortPattern::Port(443));
        assert_eq!(p("http://spin.fermyon.dev:4444/").unwrap().port, PortPattern::Port(4444));
        assert_eq!(p("http://spin.fermyon.dev:4444..5555").unwrap().port, PortPattern::Range(4444, 5555));
        assert!(p("spin.fermyon.dev").is_err());
        assert!(p("spin.fermyon.dev:80").is_err());
        assert_eq!(p("*://spin.fermyon.dev:7777").unwrap().scheme, None);
        assert_eq!(p("http://self").unwrap().host, HostPattern::ToSelf);
        assert!(p("localhost:3001").is_err());
        assert_eq!(p("http://*.example.com").unwrap().host, HostPattern::AnySubdomain(".example.com".into()));
        assert_eq!(p("http://192.168.1.1:3002").unwrap().host, HostPattern::Exact("192.168.1.1".into()));
        assert_eq!(p("http://[::1]:8001").unwrap().host, HostPattern::Exact("[::1]".into()));
        assert!(p("http://[::1]").is_err());
        assert_eq!(p("*://127.0.0.0/24:80").unwrap().host, HostPattern::Cidr("127.0.0.0".parse().unwrap(), 24));
        assert!(p("*://127.0.0.0/24").is_err());
        assert_eq!(p("*://ff00::/8:80").unwrap().host, HostPattern::Cidr("ff00::".parse().unwrap(), 8));
        assert!(p("http://spin.fermyon.dev/a").is_err());
        assert!(p("http://spin.fermyon.dev:6666/a/b").is_err());
        assert!(p("http://*.fermyon.dev/a").is_err());
        assert!(p("http://a.*.com").is_err());
        assert!(p("*://example.com").is_err(), "no default port for any scheme");
        assert!(p("ftp://example.com").is_err(), "no default port for ftp");
        assert!(p("h2c://example.com:1").is_err(), "digits in scheme");
        let all = p("*://*:*").unwrap();
        assert_eq!((all.scheme, all.host, all.port), (None, HostPattern::Any, PortPattern::Any));
    }

    #[test]
    fn specific_hosts_and_ports() {
        let h = hosts(&["*://spin.fermyon.dev:443", "http://example.com:8383"]);
        assert!(h.allows("http", "example.com", 8383));
        assert!(h.allows("https", "spin.fermyon.dev", 443));
        assert!(!h.allows("http", "example.com", 80), "port not listed");
        assert!(!h.allows("http", "google.com", 80), "host not listed");
        assert!(h.allows("HTTP", "Example.COM", 8383), "case as a URL parser gives it");
    }

    #[test]
    fn subdomain_wildcards() {
        let h = hosts(&["http://*.example.com", "http://*.example2.com:8383"]);
        assert!(h.allows("http", "a.example.com", 80));
        assert!(h.allows("http", "a.b.example.com", 80));
        assert!(h.allows("http", "a.b.example2.com", 8383));
        assert!(!h.allows("http", "a.b.example2.com", 80));
        assert!(!h.allows("http", "example.com", 80), "the bare domain is not a subdomain");
        assert!(!h.allows("http", "myexample.com", 80));
        assert!(!h.allows("https", "a.example.com", 443), "scheme not listed");
    }

    #[test]
    fn ranges_any_port_cidr_and_ipv6() {
        let h = hosts(&["http://localhost:4000..4002", "redis://*:*", "*://127.0.0.1/24:63551", "http://[::1]:8001"]);
        assert!(h.allows("http", "localhost", 4000) && h.allows("http", "localhost", 4001));
        assert!(!h.allows("http", "localhost", 4002), "range end excluded");
        assert!(h.allows("redis", "anything", 1));
        assert!(h.allows("tcp", "127.0.0.9", 63551));
        assert!(!h.allows("tcp", "127.0.1.9", 63551));
        assert!(h.allows("http", "[::1]", 8001) && h.allows("http", "::1", 8001));
    }

    #[test]
    fn service_chaining() {
        assert!(hosts(&["http://origin.spin.internal"]).allows_component("origin"));
        assert!(!hosts(&["http://origin.spin.internal"]).allows_component("edge"));
        assert!(hosts(&["http://*.spin.internal"]).allows_component("edge"));
        assert!(hosts(&["*://*:*"]).allows_component("edge"));
        assert!(!hosts(&["https://*.spin.internal"]).allows_component("edge"), "chaining is plain http");
        assert!(!AllowedHosts::default().allows_component("origin"));
    }

    #[test]
    fn self_requests() {
        assert!(hosts(&["http://self"]).allows_self("http"));
        assert!(!hosts(&["http://self"]).allows_self("https"));
        assert!(!hosts(&["http://self"]).allows("http", "self", 80), "self is not a host name");
        assert!(!hosts(&["http://example.com"]).allows_self("http"));
    }
}
