//! Access rules (WAF IP sets, CloudFront geo restriction): a behaviour's `access = "NAME"`
//! allows or denies by the client's address and country, 403 with a problem body. Right after
//! routing, before the method and body checks and long before identity: a denied client costs
//! no key work, no lookup and no counter, and learns nothing about the behaviour (not even its
//! methods).
//!
//! A deny list wins over an allow list; with an allow list, a client it does not name (or whose
//! address or country is unknown) is denied. Both kinds of allow list must admit the client.

use super::{ratelimit, Ctx, Stop};
use crate::config::ratelimit::AccessRule;
use crate::platform::Platform;
use crate::problem::EdgeError;
use crate::ratelimit::client::Client;

pub(crate) fn check<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let behaviour = cx.route()?.behaviour;
    ratelimit::announce(cx, &behaviour.limits.rate_limits);
    let Some(i) = behaviour.limits.access else { return Ok(()) };
    let cfg = &cx.edge.config.rate_limits;
    let Some(rule) = cfg.access_rules.get(i) else { return Err(EdgeError::Misconfigured.into()) };
    let client = ratelimit::client(cx);
    if let Some(why) = refusal(rule, &client) {
        cx.ex.log.error = Some(format!("access rule {:?}: {why}", rule.name));
        return Err(EdgeError::AccessDenied.into());
    }
    Ok(())
}

/// Why `rule` refuses `client`, if it does.
fn refusal(rule: &AccessRule, client: &Client) -> Option<&'static str> {
    let ip = client.addr;
    let country = client.country.as_deref();
    if ip.is_some_and(|ip| rule.deny_ips.iter().any(|c| c.contains(ip))) {
        return Some("the address is denied");
    }
    if country.is_some_and(|c| rule.deny_countries.iter().any(|d| d == c)) {
        return Some("the country is denied");
    }
    if !rule.allow_ips.is_empty() && !ip.is_some_and(|ip| rule.allow_ips.iter().any(|c| c.contains(ip))) {
        return Some(if ip.is_some() { "the address is not allowed" } else { "the address is unknown" });
    }
    if !rule.allow_countries.is_empty() && !country.is_some_and(|c| rule.allow_countries.iter().any(|a| a == c)) {
        return Some(if country.is_some() { "the country is not allowed" } else { "the country is unknown" });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::client::Cidr;

    fn rule() -> AccessRule {
        AccessRule {
            name: "r".into(),
            allow_ips: vec![Cidr::parse("203.0.113.0/24").unwrap(), Cidr::parse("2001:db8::/32").unwrap()],
            deny_ips: vec![Cidr::parse("203.0.113.66").unwrap()],
            allow_countries: Vec::new(),
            deny_countries: vec!["KP".into()],
        }
    }

    fn client(ip: &str, country: Option<&str>) -> Client {
        Client { addr: ip.parse().ok(), country: country.map(str::to_owned) }
    }

    #[test]
    fn deny_wins_then_allow_lists_must_name_the_client() {
        let r = rule();
        assert_eq!(refusal(&r, &client("203.0.113.5", None)), None);
        assert_eq!(refusal(&r, &client("2001:db8::7", Some("DE"))), None);
        assert_eq!(refusal(&r, &client("203.0.113.66", None)), Some("the address is denied"));
        assert_eq!(refusal(&r, &client("203.0.113.5", Some("KP"))), Some("the country is denied"));
        assert_eq!(refusal(&r, &client("198.51.100.1", None)), Some("the address is not allowed"));
        assert_eq!(refusal(&r, &client("unknown", None)), Some("the address is unknown"));
    }

    #[test]
    fn a_country_allow_list_denies_unknown_countries() {
        let r = AccessRule { allow_ips: Vec::new(), deny_ips: Vec::new(), allow_countries: vec!["DE".into()], ..rule() };
        assert_eq!(refusal(&r, &client("198.51.100.1", Some("DE"))), None);
        assert_eq!(refusal(&r, &client("198.51.100.1", Some("FR"))), Some("the country is not allowed"));
        assert_eq!(refusal(&r, &client("198.51.100.1", None)), Some("the country is unknown"));
    }
}
