//! Who is calling, as far as the network says: the client's address and country.
//!
//! The adapter states what the runtime knows as a [`Peer`] in the request's extensions: on
//! Workers the `CF-Connecting-IP` header (Cloudflare sets it; a client cannot) and
//! `request.cf.country`; on Spin the `spin-client-addr` header (`IP:port`), which Spin and the
//! project's host set and overwrite when a client sends its own. A request without a `Peer` has
//! no known address.
//!
//! `X-Forwarded-For` is read only when the peer is one of the config's `trusted_proxies`: the
//! list is walked from the right (the entry the trusted proxy appended) past every trusted
//! address, and the first untrusted one is the client. A client's own `X-Forwarded-For` never
//! counts: a proxy appends to it, so the spoofed entries are to the left of the real one. The
//! country comes from `country_header` under the same condition.
//!
//! IPv6 clients are keyed by their /64 by default (`ipv6_prefix`): one host usually holds a
//! whole /64, so keying by the full address would let it pick a fresh address per request.

use std::net::{IpAddr, Ipv6Addr};

use http::{HeaderMap, HeaderName};

/// What the runtime says about the connection, put into the request's extensions by adapters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// The address the connection (or the platform's front) came from.
    pub addr: Option<IpAddr>,
    /// The platform's geolocation of it (ISO 3166-1 alpha-2, upper case), where it has one.
    pub country: Option<String>,
}

impl Peer {
    /// From a header holding `IP`, `IP:port` or `[IPv6]:port` (`CF-Connecting-IP`,
    /// `spin-client-addr`).
    pub fn from_header(headers: &HeaderMap, name: &str) -> Peer {
        let addr = headers.get(name).and_then(|v| v.to_str().ok()).and_then(parse_addr);
        Peer { addr, country: None }
    }

    /// Attaches a country (from `request.cf.country`), if it is two letters.
    pub fn with_country(mut self, country: Option<String>) -> Peer {
        self.country = country.and_then(|c| country_code(&c));
        self
    }
}

/// `IP`, `IP:port`, `[IPv6]:port` or `[IPv6]`.
pub fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse::<Ipv6Addr>().ok().map(|ip| canonical(IpAddr::V6(ip)));
    }
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<IpAddr>().ok().map(canonical)
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Two ASCII letters, upper-cased.
pub fn country_code(s: &str) -> Option<String> {
    let s = s.trim();
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

/// An address block, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `2001:db8::/32`, or a single address.
    ///
    /// # Errors
    /// Why it is not one, for the config's message.
    pub fn parse(s: &str) -> Result<Cidr, &'static str> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| "the address is not an IPv4 or IPv6 address")?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or("the prefix length is out of range")?,
        };
        if mask(addr, prefix) != addr {
            return Err("bits are set past the prefix length");
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

/// `ip` with the bits past `prefix` cleared.
pub fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix.min(128))) };
            IpAddr::V6((bits & m).into())
        }
    }
}

/// How to find the client behind the peer, from `[client]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRules {
    pub trusted_proxies: Vec<Cidr>,
    /// IPv6 addresses are keyed by this prefix (64 by default).
    pub ipv6_prefix: u8,
    /// Where a trusted proxy puts the country (on Spin; Workers has `request.cf.country`).
    pub country_header: Option<HeaderName>,
}

impl Default for ClientRules {
    fn default() -> Self {
        ClientRules { trusted_proxies: Vec::new(), ipv6_prefix: 64, country_header: None }
    }
}

/// The client as the edge judges it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    pub addr: Option<IpAddr>,
    pub country: Option<String>,
}

impl ClientRules {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }

    /// The client behind `peer`, given the request's headers.
    pub fn client(&self, peer: Option<&Peer>, headers: &HeaderMap) -> Client {
        let Some(peer) = peer else { return Client::default() };
        let Some(addr) = peer.addr else { return Client { addr: None, country: peer.country.clone() } };
        if !self.trusted(addr) {
            return Client { addr: Some(addr), country: peer.country.clone() };
        }
        // The peer is a proxy we trust: believe what it appended, and walk back past other
        // trusted proxies. An entry that does not parse ends the walk (nothing left of it is
        // believable); the client is then the last address we could read.
        let mut client = addr;
        let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
        for hop in hops.rsplit(',') {
            match parse_addr(hop) {
                Some(ip) => {
                    client = ip;
                    if !self.trusted(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        let country = self
            .country_header
            .as_ref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .and_then(country_code)
            .or_else(|| peer.country.clone());
        Client { addr: Some(client), country }
    }

    /// The address as a rate-limit key: IPv4 whole, IPv6 cut to `ipv6_prefix`.
    pub fn key_of(&self, ip: IpAddr) -> String {
        match ip {
            IpAddr::V4(_) => ip.to_string(),
            IpAddr::V6(_) => format!("{}/{}", mask(ip, self.ipv6_prefix), self.ipv6_prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn peer(s: &str) -> Peer {
        Peer { addr: parse_addr(s), country: None }
    }

    #[test]
    fn addresses_parse_with_and_without_ports() {
        assert_eq!(parse_addr("203.0.113.7:51234"), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(parse_addr("[2001:db8::1]:443"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_addr("2001:db8::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_addr("::ffff:198.51.100.2"), Some("198.51.100.2".parse().unwrap()));
        assert_eq!(parse_addr("not an address"), None);
        assert_eq!(parse_addr("1.2.3.4:99999"), None);
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.200.1.1".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("203.0.113.9").unwrap().contains("203.0.113.9".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.1/8"), Err("bits are set past the prefix length"));
        assert_eq!(Cidr::parse("10.0.0.0/33"), Err("the prefix length is out of range"));
        assert!(Cidr::parse("example.com/8").is_err());
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let rules = ClientRules { trusted_proxies: vec![Cidr::parse("10.0.0.0/8").unwrap()], ..ClientRules::default() };
        let h = headers(&[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(rules.client(Some(&peer("198.51.100.7:1000")), &h).addr, parse_addr("198.51.100.7"));
    }

    #[test]
    fn forwarded_for_is_walked_from_the_right_past_trusted_proxies() {
        let rules = ClientRules { trusted_proxies: vec![Cidr::parse("10.0.0.0/8").unwrap()], ..ClientRules::default() };
        // The client spoofed 1.1.1.1; the first proxy appended the real address, a second proxy its own.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7"), ("x-forwarded-for", "10.0.0.2")]);
        assert_eq!(rules.client(Some(&peer("10.0.0.1:80")), &h).addr, parse_addr("198.51.100.7"));
        let garbage = headers(&[("x-forwarded-for", "1.1.1.1, nonsense, 10.0.0.3")]);
        assert_eq!(rules.client(Some(&peer("10.0.0.1:80")), &garbage).addr, parse_addr("10.0.0.3"));
    }

    #[test]
    fn the_country_header_counts_only_from_a_trusted_proxy() {
        let rules = ClientRules {
            trusted_proxies: vec![Cidr::parse("10.0.0.0/8").unwrap()],
            country_header: Some(HeaderName::from_static("x-country")),
            ..ClientRules::default()
        };
        let h = headers(&[("x-country", "de")]);
        assert_eq!(rules.client(Some(&peer("10.0.0.1:80")), &h).country.as_deref(), Some("DE"));
        assert_eq!(rules.client(Some(&peer("198.51.100.7:80")), &h).country, None);
        let cf = Peer { addr: parse_addr("198.51.100.7"), country: Some("FR".into()) };
        assert_eq!(rules.client(Some(&cf), &h).country.as_deref(), Some("FR"));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let rules = ClientRules::default();
        let a = rules.key_of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = rules.key_of("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(rules.key_of("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
