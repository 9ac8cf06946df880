//! `[cache_policies.NAME]` and `[origin_request_policies.NAME]`: what the edge caches for a
//! behaviour and how long, what the cache key is made of, and which further parts of the
//! client's request reach the origin. Modelled on CloudFront's cache and origin request
//! policies, with their limits (at most 10 headers, cookies and query names each).
//!
//! ```toml
//! [cache_policies.assets]
//! min_ttl = 0
//! default_ttl = 86400          # when the origin says nothing; absent: the RFC 9111 heuristic
//! max_ttl = 31536000
//! query = "none"               # "none", "all" (sorted), { allow = [...] }, { deny = ["utm_*"] }
//! headers = ["accept-encoding"]
//! cookies = []
//! per_user = false
//! stale_while_revalidate = 0   # seconds; for answers whose Cache-Control names none
//! stale_if_error = 0
//! ```

use std::time::Duration;

use http::HeaderName;

use super::walk::{self, AsNode, Checker, Fields, Node};

/// CloudFront's limit on headers, cookies and query names in a key or origin request policy.
pub const MAX_NAMES: usize = 10;
/// The longest TTL accepted: 10 years (CloudFront's `max_ttl` has no documented ceiling; ten
/// years keeps `SystemTime` arithmetic far from overflow on every target).
pub const MAX_TTL_SECS: i64 = 10 * 365 * 86_400;
/// CloudFront's default `max_ttl`: one year.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(31_536_000);

/// Headers that can be neither in a key nor sent on by an origin request policy: the client's
/// credentials (the edge's identity replaces them), cookies (named one by one with `cookies`),
/// the edge's own identity headers, and the request's framing.
const REFUSED_HEADERS: [&str; 7] = ["authorization", "cookie", "host", "content-length", "transfer-encoding", "connection", "x-amz-date"];
/// The edge's own cookies (session, login, canary id): never in a key, never sent to an origin.
pub const EDGE_COOKIES: [&str; 3] = [crate::auth::oidc::SESSION_COOKIE, crate::auth::oidc::LOGIN_COOKIE, crate::canary::COOKIE];

/// Which query parameters count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryRule {
    None,
    /// All of them, sorted by name (then value), so `?b=1&a=2` and `?a=2&b=1` are one entry.
    All,
    /// Only these names.
    Allow(Vec<String>),
    /// All but these names; a name ending in `*` matches every name with that prefix (`utm_*`).
    Deny(Vec<String>),
}

impl QueryRule {
    /// Whether a parameter name is kept.
    pub fn keeps(&self, name: &str) -> bool {
        let listed = |names: &[String]| {
            names.iter().any(|n| match n.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => n == name,
            })
        };
        match self {
            QueryRule::None => false,
            QueryRule::All => true,
            QueryRule::Allow(names) => listed(names),
            QueryRule::Deny(names) => !listed(names),
        }
    }
}

/// A validated `[cache_policies.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    pub name: String,
    /// The least time an entry is fresh, whatever the origin says. Unlike CloudFront, it never
    /// makes a response storable that is not (`private`, `no-store`, `Set-Cookie`): see
    /// `docs/edge-config.md`.
    pub min_ttl: Duration,
    /// Freshness when the origin gives none (no `s-maxage`, `max-age` or `Expires`); `None`:
    /// RFC 9111's heuristic (10% of the time since `Last-Modified`).
    pub default_ttl: Option<Duration>,
    pub max_ttl: Duration,
    pub query: QueryRule,
    /// Lower-case header names in the key (and so sent to the origin).
    pub headers: Vec<HeaderName>,
    /// Cookie names in the key (and so sent to the origin).
    pub cookies: Vec<String>,
    /// One entry per caller: the identity the edge established is part of the key.
    pub per_user: bool,
    /// `stale-while-revalidate` and `stale-if-error` windows for answers whose `Cache-Control`
    /// names none (the origin's own always win); never with `no-cache`, `must-revalidate`,
    /// `proxy-revalidate` or `s-maxage` (RFC 9111 4.2.4).
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
}

/// A validated `[origin_request_policies.NAME]`: what reaches the origin beyond the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRequestPolicy {
    pub name: String,
    pub headers: Vec<HeaderName>,
    pub cookies: Vec<String>,
    pub query: QueryRule,
}

impl OriginRequestPolicy {
    /// Without a policy: today's header allow-list (in `forward.rs`), no cookies, the whole query.
    pub fn default_policy() -> Self {
        OriginRequestPolicy { name: String::new(), headers: Vec::new(), cookies: Vec::new(), query: QueryRule::All }
    }
}

/// A validated `[purge]`: who may purge, and how often each instance re-reads the shared purge
/// list (the longest another instance serves a purged entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeConfig {
    pub auth: super::auth::AuthRule,
    pub check_interval: Duration,
}

/// Five seconds: a purge reaches every instance within that, for one shared read per instance
/// per five seconds (a Workers cache call, a Spin key-value read).
pub const DEFAULT_PURGE_CHECK_INTERVAL: Duration = Duration::from_secs(5);

pub(super) fn parse_purge(ck: &mut Checker<'_>, node: Node<'_, '_>, auth: &super::auth::AuthConfig) -> Option<PurgeConfig> {
    let table = ck.table(node, "[purge]")?;
    let mut f = Fields::new(ck, table, "[purge]", &["auth", "check_interval_s"]);
    let rule = match f.take("auth") {
        Some(n) => match super::auth::parse_rule(ck, n, auth)? {
            super::auth::AuthRule::None => {
                ck.error(
                    n.span,
                    "[purge] auth = \"none\" would let anyone empty the cache",
                    "use an operator credential, e.g. auth = { jwt = [\"main\"], scopes = [\"admin\"] }",
                );
                None
            }
            rule => Some(rule),
        },
        None => {
            ck.error(table.span, "[purge] needs auth", "add auth = { jwt = [\"PROVIDER\"], scopes = [\"admin\"] } (or another rule)");
            None
        }
    };
    let interval = f
        .take("check_interval_s")
        .map_or(Some(DEFAULT_PURGE_CHECK_INTERVAL), |n| ck.int_in(n, 1, 3600).map(|s| Duration::from_secs(s as u64)));
    Some(PurgeConfig { auth: rule?, check_interval: interval? })
}

const CACHE_KEYS: [&str; 9] =
    ["min_ttl", "default_ttl", "max_ttl", "query", "headers", "cookies", "per_user", "stale_while_revalidate", "stale_if_error"];
const ORIGIN_KEYS: [&str; 3] = ["headers", "cookies", "query"];

pub(super) fn parse_cache_policies(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<CachePolicy>> {
    walk::named_tables(ck, node, "cache policy", "cache_policies", parse_cache_policy)
}

fn parse_cache_policy(ck: &mut Checker<'_>, name: &str, node: Node<'_, '_>) -> Option<CachePolicy> {
    let what = format!("[cache_policies.{name}]");
    let table = ck.table(node, &what)?;
    let mut f = Fields::new(ck, table, &what, &CACHE_KEYS);
    let secs = |ck: &mut Checker<'_>, n: Node<'_, '_>| ck.int_in(n, 0, MAX_TTL_SECS).map(|s| (Duration::from_secs(s as u64), n.span));
    let min = f.take("min_ttl").map(|n| secs(ck, n));
    let default = f.take("default_ttl").map(|n| secs(ck, n));
    let max = f.take("max_ttl").map(|n| secs(ck, n));
    let query = f.take("query").map_or(Some(QueryRule::None), |n| parse_query(ck, n));
    let headers = f.take("headers").map_or(Some(Vec::new()), |n| parse_headers(ck, n));
    let cookies = f.take("cookies").map_or(Some(Vec::new()), |n| parse_cookies(ck, n));
    let per_user = f.take("per_user").map_or(Some(false), |n| ck.boolean(n));
    let swr = f.take("stale_while_revalidate").map_or(Some((Duration::ZERO, table.span)), |n| secs(ck, n));
    let sie = f.take("stale_if_error").map_or(Some((Duration::ZERO, table.span)), |n| secs(ck, n));

    let min = min.unwrap_or(Some((Duration::ZERO, table.span)));
    let max = max.unwrap_or(Some((DEFAULT_MAX_TTL, table.span)));
    let default = default.map_or(Some(None), |v| v.map(Some));
    let mut ok = true;
    if let (Some((min, _)), Some((max, max_span))) = (min, max) {
        if min > max {
            ck.error(
                max_span,
                format!("{what}: max_ttl ({}) is below min_ttl ({})", max.as_secs(), min.as_secs()),
                "make min_ttl <= default_ttl <= max_ttl",
            );
            ok = false;
        }
        if let Some(Some((d, span))) = default {
            if d < min || d > max {
                ck.error(
                    span,
                    format!("{what}: default_ttl ({}) is outside min_ttl..max_ttl ({}..{})", d.as_secs(), min.as_secs(), max.as_secs()),
                    "make min_ttl <= default_ttl <= max_ttl",
                );
                ok = false;
            }
        }
    }
    let ((min, _), (max, _), default) = (min?, max?, default?);
    let policy = CachePolicy {
        name: name.to_owned(),
        min_ttl: min,
        default_ttl: default.map(|(d, _)| d),
        max_ttl: max,
        query: query?,
        headers: headers?,
        cookies: cookies?,
        per_user: per_user?,
        stale_while_revalidate: swr?.0,
        stale_if_error: sie?.0,
    };
    ok.then_some(policy)
}

pub(super) fn parse_origin_request_policies(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<OriginRequestPolicy>> {
    let table = ck.table(node, "[origin_request_policies]")?;
    let mut out = Vec::new();
    let mut ok = true;
    for (name, value) in walk::entries(table) {
        if !walk::is_identifier(name.value) {
            ck.error(
                name.span,
                format!("origin request policy name {:?} is not a valid name", name.value),
                "use letters, digits, '-' and '_' only",
            );
            ok = false;
            continue;
        }
        let what = format!("[origin_request_policies.{}]", name.value);
        let Some(table) = ck.table(value, &what) else {
            ok = false;
            continue;
        };
        let mut f = Fields::new(ck, table, &what, &ORIGIN_KEYS);
        let headers = f.take("headers").map_or(Some(Vec::new()), |n| parse_headers(ck, n));
        let cookies = f.take("cookies").map_or(Some(Vec::new()), |n| parse_cookies(ck, n));
        let query = f.take("query").map_or(Some(QueryRule::All), |n| parse_query(ck, n));
        match (headers, cookies, query) {
            (Some(headers), Some(cookies), Some(query)) => {
                out.push(OriginRequestPolicy { name: name.value.to_owned(), headers, cookies, query })
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A list of at most [`MAX_NAMES`] strings, each checked by `check` (which reports its own error).
fn names<T>(
    ck: &mut Checker<'_>,
    node: Node<'_, '_>,
    what: &str,
    mut check: impl FnMut(&mut Checker<'_>, Node<'_, '_>, &str) -> Option<T>,
) -> Option<Vec<T>> {
    let items = ck.array(node, what)?;
    if items.len() > MAX_NAMES {
        ck.error(
            node.span,
            format!("{} {what}; at most {MAX_NAMES} are allowed", items.len()),
            "keep the key small: every name multiplies the entries",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut ok = true;
    for item in items {
        let n = item.node();
        let Some(s) = ck.string(n) else {
            ok = false;
            continue;
        };
        if seen.iter().any(|x| x.eq_ignore_ascii_case(&s)) {
            ck.error(n.span, format!("{s:?} is listed twice"), "list each name once");
            ok = false;
            continue;
        }
        seen.push(s.clone());
        match check(ck, n, &s) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_headers(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<HeaderName>> {
    names(ck, node, "headers", |ck, n, s| {
        let lower = s.to_ascii_lowercase();
        let Ok(name) = HeaderName::from_bytes(lower.as_bytes()) else {
            ck.error(n.span, format!("{s:?} is not a valid header name"), "header names are letters, digits and '-'");
            return None;
        };
        if REFUSED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-verge-") || lower.starts_with("x-amz-") {
            let hint = match lower.as_str() {
                "cookie" => "name cookies one by one with cookies = [\"NAME\"]",
                "authorization" => "the edge checks credentials itself (auth = ...); use per_user = true for one entry per caller",
                _ => "this header is the edge's own, or the request's framing",
            };
            ck.error(n.span, format!("header {s:?} cannot be used here"), hint);
            return None;
        }
        Some(name)
    })
}

fn parse_cookies(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<String>> {
    names(ck, node, "cookies", |ck, n, s| {
        let token = !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !token {
            ck.error(n.span, format!("{s:?} is not a valid cookie name"), "cookie names are visible ASCII without separators");
            return None;
        }
        if EDGE_COOKIES.contains(&s) {
            ck.error(
                n.span,
                format!("cookie {s:?} is the edge's own session"),
                "the edge's session never reaches a key or an origin; use per_user = true",
            );
            return None;
        }
        Some(s.to_owned())
    })
}

fn parse_query(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<QueryRule> {
    const HINT: &str = "write query = \"none\", \"all\", { allow = [\"NAME\"] } or { deny = [\"utm_*\"] }";
    match node.value {
        toml::de::DeValue::String(s) => match s.as_ref() {
            "none" => Some(QueryRule::None),
            "all" => Some(QueryRule::All),
            other => {
                ck.error(node.span, format!("unknown query rule {other:?}"), HINT);
                None
            }
        },
        toml::de::DeValue::Table(t) => {
            let table = walk::TableRef { span: node.span, table: t };
            let mut f = Fields::new(ck, table, "a query rule", &["allow", "deny"]);
            let (allow, deny) = (f.take("allow"), f.take("deny"));
            let list = |ck: &mut Checker<'_>, n| {
                names(ck, n, "query names", |ck, n, s| {
                    let body = s.strip_suffix('*').unwrap_or(s);
                    let ok = !body.is_empty() && !body.contains('*') && s.bytes().all(|b| b.is_ascii_graphic() && !b"&=#".contains(&b));
                    if !ok {
                        ck.error(
                            n.span,
                            format!("{s:?} is not a valid query name"),
                            "names are visible ASCII without '&', '=' or '#'; a final '*' matches a prefix",
                        );
                        return None;
                    }
                    Some(s.to_owned())
                })
            };
            match (allow, deny) {
                (Some(a), None) => list(ck, a).map(QueryRule::Allow),
                (None, Some(d)) => list(ck, d).map(QueryRule::Deny),
                _ => {
                    ck.error(node.span, "a query rule needs exactly one of allow or deny", HINT);
                    None
                }
            }
        }
        _ => {
            ck.error(node.span, "expected a string or a table for query", HINT);
            None
        }
    }
}

/// Looks up `name = "POLICY"` on a behaviour among the policies that parsed.
pub(super) fn policy_ref(ck: &mut Checker<'_>, n: Node<'_, '_>, names: &[&str], kind: &str, table: &str) -> Option<usize> {
    let s = ck.string(n)?;
    match names.iter().position(|p| *p == s) {
        Some(i) => Some(i),
        None => {
            let hint = match walk::closest(&s, names) {
                Some(c) => format!("did you mean {c:?}? define [{table}.{s}] or use one of: {}", names.join(", ")),
                None if names.is_empty() => format!("define [{table}.{s}]"),
                None => format!("define [{table}.{s}] or use one of: {}", names.join(", ")),
            };
            ck.error(n.span, format!("{kind} {s:?} is not defined"), hint);
            None
        }
    }
}
