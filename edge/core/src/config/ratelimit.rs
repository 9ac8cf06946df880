//! `[client]`, `[rate_limits.NAME]`, `[access_rules.NAME]`, `[rate_limit_store]`, and the
//! behaviour keys that name them (`rate_limits = [...]`, `access = "NAME"`). Modelled on AWS WAF
//! rate-based rules (keys, up to five combined), API Gateway throttling and usage plans (rate,
//! burst, daily quota) and WAF IP sets and CloudFront geo restriction.
//!
//! ```toml
//! [client]
//! trusted_proxies = ["10.0.0.0/8"]      # X-Forwarded-For is read only from these
//! ipv6_prefix = 64
//!
//! [rate_limits.per-ip]
//! key = "ip"                             # ip, sub, consumer, header:NAME, cookie:NAME, or a list
//! limit = 30                             # per window
//! window_s = 60
//! burst = 10                             # at once; default: limit
//! scope = "global"                       # or "instance" (the default)
//! on_store_failure = "open"              # or "closed"
//! ```

use std::time::Duration;

use http::HeaderName;

use super::walk::{self, AsNode, Checker, Fields, Node, TableRef};
use super::Setting;
use crate::ratelimit::client::{country_code, Cidr, ClientRules};

/// At most five keys combined, as WAF rate-based rules.
pub const MAX_KEY_PARTS: usize = 5;
/// WAF's shortest window is 60 s and API Gateway counts per second; one second to one day covers both.
pub const MAX_WINDOW_SECS: i64 = 86_400;
/// How long a global store may take before its limit fails open or closed.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_millis(250);

/// One part of a limit's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// The client's address (IPv6 by its prefix).
    Ip,
    /// The JWT or session subject (`x-verge-user`).
    Sub,
    /// The API key's consumer (`x-verge-consumer`); for a caller without an API key, its user
    /// (`user:SUB`, a session's or a JWT's subject).
    Consumer,
    Header(HeaderName),
    Cookie(String),
}

impl KeyPart {
    /// Known only once identity has run.
    pub fn needs_identity(&self) -> bool {
        matches!(self, KeyPart::Sub | KeyPart::Consumer)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Counted in this instance's memory: free, approximate across instances.
    Instance,
    /// Counted in the platform's shared store (a Durable Object per key on Workers, Redis on
    /// Spin): exact across every instance.
    Global,
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Every request of the behaviours that list it.
    All,
    /// Only requests whose credentials identity refused (a bad token, an unknown API key); once
    /// exhausted, the caller is refused before any identity work or key lookup.
    FailedIdentity,
}

/// A validated `[rate_limits.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub name: String,
    pub key: Vec<KeyPart>,
    pub limit: u32,
    pub window: Duration,
    pub burst: u32,
    /// Requests per UTC day, on top of the rate.
    pub daily_quota: Option<u64>,
    /// An API key's plan (`rate_per_second`, `burst`, `quota_per_day`) replaces the values above.
    pub plan: bool,
    pub scope: Scope,
    pub fail_open: bool,
    pub store_timeout: Duration,
    pub counting: Counting,
}

/// A validated `[access_rules.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub name: String,
    pub allow_ips: Vec<Cidr>,
    pub deny_ips: Vec<Cidr>,
    pub allow_countries: Vec<String>,
    pub deny_countries: Vec<String>,
}

/// Everything of this module's sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub client: ClientRules,
    pub limits: Vec<RateLimit>,
    pub access_rules: Vec<AccessRule>,
    /// `[auth.oidc] rate_limits`: limits on the login routes (indexes into `limits`).
    pub login: Vec<usize>,
    /// `[rate_limit_store] redis`: the Redis address for global limits on Spin.
    pub redis: Option<Setting>,
}

/// What one behaviour uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BehaviourLimits {
    /// Indexes into [`RateLimitConfig::limits`], in the order listed.
    pub rate_limits: Vec<usize>,
    /// Index into [`RateLimitConfig::access_rules`].
    pub access: Option<usize>,
}

/// Parses the sections (taken from `top`) and `[auth.oidc] rate_limits` (read from `root`).
pub(super) fn parse(ck: &mut Checker<'_>, top: &mut Fields<'_, '_>, root: TableRef<'_, '_>) -> Option<RateLimitConfig> {
    let client = top.take("client").map_or(Some(ClientRules::default()), |n| parse_client(ck, n));
    let limits = top.take("rate_limits").map_or(Some(Vec::new()), |n| parse_limits(ck, n));
    let access_rules = top.take("access_rules").map_or(Some(Vec::new()), |n| parse_access_rules(ck, n));
    let redis = match top.take("rate_limit_store") {
        None => Some(None),
        Some(n) => ck.table(n, "[rate_limit_store]").and_then(|t| {
            let mut f = Fields::new(ck, t, "[rate_limit_store]", &["redis"]);
            match f.take("redis") {
                Some(n) => ck.setting(n, walk::SettingKind::Text).map(Some),
                None => Some(None),
            }
        }),
    };
    let login = match (login_node(root), limits.as_ref()) {
        (Some(n), Some(l)) => limit_refs(ck, n, l, "[auth.oidc] rate_limits", true).and_then(|refs| {
            let mut ok = true;
            for (i, span) in &refs {
                let lim = &l[*i];
                if lim.key.iter().any(KeyPart::needs_identity) || lim.counting == Counting::FailedIdentity {
                    ck.error(
                        *span,
                        format!("rate limit {:?} cannot limit the login routes", lim.name),
                        "the login routes run before identity: use a limit keyed by ip, header or cookie that counts every request",
                    );
                    ok = false;
                }
            }
            ok.then(|| refs.into_iter().map(|(i, _)| i).collect())
        }),
        (Some(_), None) => None,
        (None, _) => Some(Vec::new()),
    };
    // A bad login list is reported above; the rest still serves to check the behaviours.
    Some(RateLimitConfig { client: client?, limits: limits?, access_rules: access_rules?, login: login.unwrap_or_default(), redis: redis? })
}

fn login_node<'a, 'i>(root: TableRef<'a, 'i>) -> Option<Node<'a, 'i>> {
    let auth = root.table.iter().find(|(k, _)| k.get_ref() == "auth")?.1.get_ref();
    let toml::de::DeValue::Table(auth) = auth else { return None };
    let oidc = auth.iter().find(|(k, _)| k.get_ref() == "oidc")?.1.get_ref();
    let toml::de::DeValue::Table(oidc) = oidc else { return None };
    Some(oidc.iter().find(|(k, _)| k.get_ref() == "rate_limits")?.1.node())
}

fn parse_client(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<ClientRules> {
    let table = ck.table(node, "[client]")?;
    let mut f = Fields::new(ck, table, "[client]", &["trusted_proxies", "ipv6_prefix", "country_header"]);
    let proxies = f.take("trusted_proxies").map_or(Some(Vec::new()), |n| cidrs(ck, n, "trusted_proxies"));
    let prefix = f.take("ipv6_prefix").map_or(Some(64), |n| ck.int_in(n, 16, 128).map(|p| p as u8));
    let country_header = match f.take("country_header") {
        None => Some(None),
        Some(n) => header(ck, n).map(Some),
    };
    Some(ClientRules { trusted_proxies: proxies?, ipv6_prefix: prefix?, country_header: country_header? })
}

fn header(ck: &mut Checker<'_>, n: Node<'_, '_>) -> Option<HeaderName> {
    let s = ck.string(n)?;
    match HeaderName::from_bytes(s.to_ascii_lowercase().as_bytes()) {
        Ok(h) => Some(h),
        Err(_) => {
            ck.error(n.span, format!("{s:?} is not a valid header name"), "header names are letters, digits and '-'");
            None
        }
    }
}

fn cidrs(ck: &mut Checker<'_>, node: Node<'_, '_>, what: &str) -> Option<Vec<Cidr>> {
    let items = ck.array(node, what)?;
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let n = item.node();
        let Some(s) = ck.string(n) else {
            ok = false;
            continue;
        };
        match Cidr::parse(&s) {
            Ok(c) => out.push(c),
            Err(why) => {
                ck.error(
                    n.span,
                    format!("{s:?} is not an address block: {why}"),
                    "write \"203.0.113.0/24\", \"2001:db8::/32\" or one address",
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn countries(ck: &mut Checker<'_>, node: Node<'_, '_>, what: &str) -> Option<Vec<String>> {
    let items = ck.array(node, what)?;
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let n = item.node();
        let Some(s) = ck.string(n) else {
            ok = false;
            continue;
        };
        match country_code(&s) {
            Some(c) if s.bytes().all(|b| b.is_ascii_uppercase()) => out.push(c),
            _ => {
                ck.error(n.span, format!("{s:?} is not a country code"), "use ISO 3166-1 alpha-2 codes in upper case, e.g. \"DE\"");
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn parse_limits(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<RateLimit>> {
    walk::named_tables(ck, node, "rate_limits", "rate_limits", parse_limit)
}

const LIMIT_KEYS: [&str; 10] =
    ["key", "limit", "window_s", "burst", "daily_quota", "plan", "scope", "on_store_failure", "store_timeout_ms", "count"];

fn parse_limit(ck: &mut Checker<'_>, name: &str, node: Node<'_, '_>) -> Option<RateLimit> {
    let what = format!("[rate_limits.{name}]");
    let table = ck.table(node, &what)?;
    let mut f = Fields::new(ck, table, &what, &LIMIT_KEYS);
    let key =
        f.require(ck, "key", "key = \"ip\" (or sub, consumer, \"header:NAME\", \"cookie:NAME\", or a list)").and_then(|n| parse_key(ck, n));
    let limit = f.require(ck, "limit", "limit = 100 (requests per window)").and_then(|n| ck.int_in(n, 1, 1_000_000));
    let window = f.require(ck, "window_s", "window_s = 60").and_then(|n| ck.int_in(n, 1, MAX_WINDOW_SECS));
    let burst = f.take("burst").map(|n| ck.int_in(n, 1, 1_000_000));
    let quota = f.take("daily_quota").map(|n| ck.int_in(n, 1, 1_000_000_000).map(|q| (q as u64, n.span)));
    let plan = f.take("plan").map(|n| ck.boolean(n).map(|b| (b, n.span)));
    let scope = match f.take("scope") {
        None => Some(Scope::Instance),
        Some(n) => match ck.string(n).as_deref() {
            Some("instance") => Some(Scope::Instance),
            Some("global") => Some(Scope::Global),
            Some(other) => {
                ck.error(
                    n.span,
                    format!("unknown scope {other:?}"),
                    "use scope = \"instance\" (in memory, per instance) or \"global\" (exact, shared)",
                );
                None
            }
            None => None,
        },
    };
    let fail = f.take("on_store_failure").map(|n| {
        let s = ck.string(n)?;
        match s.as_str() {
            "open" => Some((true, n.span)),
            "closed" => Some((false, n.span)),
            _ => {
                ck.error(
                    n.span,
                    format!("unknown on_store_failure {s:?}"),
                    "use \"open\" (admit while the store is down) or \"closed\" (refuse with 503)",
                );
                None
            }
        }
    });
    let timeout = f.take("store_timeout_ms").map(|n| ck.int_in(n, 1, 10_000).map(|ms| (Duration::from_millis(ms as u64), n.span)));
    let counting = match f.take("count") {
        None => Some((Counting::All, table.span)),
        Some(n) => match ck.string(n).as_deref() {
            Some("all") => Some((Counting::All, n.span)),
            Some("failed_identity") => Some((Counting::FailedIdentity, n.span)),
            Some(other) => {
                ck.error(n.span, format!("unknown count {other:?}"), "use count = \"all\" or \"failed_identity\"");
                None
            }
            None => None,
        },
    };
    let (key, limit, window, scope, (counting, count_span)) = (key?, limit?, window?, scope?, counting?);
    let burst = match burst {
        None => limit,
        Some(b) => b?,
    };
    let (quota, plan, fail, timeout) = (given(quota)?, given(plan)?, given(fail)?, given(timeout)?);
    let mut ok = true;
    if scope == Scope::Instance {
        for span in [fail.map(|f| f.1), timeout.map(|t| t.1)].into_iter().flatten() {
            ck.error(
                span,
                format!("{what} has no store to fail: its scope is \"instance\""),
                "on_store_failure and store_timeout_ms apply to scope = \"global\"",
            );
            ok = false;
        }
    }
    if let Some((true, span)) = plan {
        if !key.contains(&KeyPart::Consumer) {
            ck.error(span, format!("{what} takes its values from API key plans but is not keyed by consumer"), "add \"consumer\" to key");
            ok = false;
        }
    }
    if counting == Counting::FailedIdentity {
        if key.iter().any(KeyPart::needs_identity) {
            ck.error(
                count_span,
                format!("{what} counts failed identity but is keyed by who the caller is"),
                "a refused caller has no sub or consumer: key it by ip, header or cookie",
            );
            ok = false;
        }
        if let Some(span) = quota.map(|q| q.1).or(plan.filter(|p| p.0).map(|p| p.1)) {
            ck.error(span, format!("{what} counts failed identity, which has no quota or plan"), "remove daily_quota and plan");
            ok = false;
        }
    }
    ok.then(|| RateLimit {
        name: name.to_owned(),
        key,
        limit: limit as u32,
        window: Duration::from_secs(window as u64),
        burst: burst as u32,
        daily_quota: quota.map(|q| q.0),
        plan: plan.is_some_and(|p| p.0),
        scope,
        fail_open: fail.is_none_or(|f| f.0),
        store_timeout: timeout.map_or(DEFAULT_STORE_TIMEOUT, |t| t.0),
        counting,
    })
}

/// An optional key's value: absent is `Some(None)`, present but invalid is `None`.
fn given<T>(v: Option<Option<T>>) -> Option<Option<T>> {
    match v {
        None => Some(None),
        Some(x) => x.map(Some),
    }
}

fn parse_key(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<KeyPart>> {
    let parts: Vec<Node<'_, '_>> = match node.value {
        toml::de::DeValue::Array(items) => items.iter().map(AsNode::node).collect(),
        _ => vec![node],
    };
    if parts.is_empty() || parts.len() > MAX_KEY_PARTS {
        ck.error(
            node.span,
            format!("a key has 1 to {MAX_KEY_PARTS} parts, not {}", parts.len()),
            "key = [\"ip\", \"header:x-tenant\"] combines up to five",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for n in parts {
        let Some(s) = ck.string(n) else {
            ok = false;
            continue;
        };
        let part = match s.split_once(':') {
            None if s == "ip" => Some(KeyPart::Ip),
            None if s == "sub" => Some(KeyPart::Sub),
            None if s == "consumer" => Some(KeyPart::Consumer),
            Some(("header", h)) => match HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()) {
                Ok(h) if h == http::header::COOKIE => {
                    ck.error(n.span, "the Cookie header cannot be a key", "name one cookie: \"cookie:NAME\"");
                    None
                }
                Ok(h) => Some(KeyPart::Header(h)),
                Err(_) => {
                    ck.error(n.span, format!("{h:?} is not a valid header name"), "header names are letters, digits and '-'");
                    None
                }
            },
            Some(("cookie", c)) if !c.is_empty() && c.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)) => {
                Some(KeyPart::Cookie(c.to_owned()))
            }
            _ => {
                ck.error(n.span, format!("unknown key part {s:?}"), "use ip, sub, consumer, \"header:NAME\" or \"cookie:NAME\"");
                None
            }
        };
        match part {
            Some(p) if out.contains(&p) => {
                ck.error(n.span, format!("{s:?} is listed twice"), "list each key part once");
                ok = false;
            }
            Some(p) => out.push(p),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn parse_access_rules(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<AccessRule>> {
    walk::named_tables(ck, node, "access_rules", "access_rules", |ck, name, node| {
        let what = format!("[access_rules.{name}]");
        let table = ck.table(node, &what)?;
        let mut f = Fields::new(ck, table, &what, &["allow_ips", "deny_ips", "allow_countries", "deny_countries"]);
        let allow_ips = f.take("allow_ips").map_or(Some(Vec::new()), |n| cidrs(ck, n, "allow_ips"));
        let deny_ips = f.take("deny_ips").map_or(Some(Vec::new()), |n| cidrs(ck, n, "deny_ips"));
        let allow_countries = f.take("allow_countries").map_or(Some(Vec::new()), |n| countries(ck, n, "allow_countries"));
        let deny_countries = f.take("deny_countries").map_or(Some(Vec::new()), |n| countries(ck, n, "deny_countries"));
        let rule = AccessRule {
            name: name.to_owned(),
            allow_ips: allow_ips?,
            deny_ips: deny_ips?,
            allow_countries: allow_countries?,
            deny_countries: deny_countries?,
        };
        if rule.allow_ips.is_empty() && rule.deny_ips.is_empty() && rule.allow_countries.is_empty() && rule.deny_countries.is_empty() {
            ck.error(table.span, format!("{what} allows and denies nothing"), "add allow_ips, deny_ips, allow_countries or deny_countries");
            return None;
        }
        Some(rule)
    })
}

/// A list of limit names: indexes and where each was written.
fn limit_refs(
    ck: &mut Checker<'_>,
    node: Node<'_, '_>,
    limits: &[RateLimit],
    what: &str,
    partial: bool,
) -> Option<Vec<(usize, walk::Span)>> {
    let items = ck.array(node, what)?;
    let mut out: Vec<(usize, walk::Span)> = Vec::new();
    let mut ok = true;
    for item in items {
        let n = item.node();
        let Some(s) = ck.string(n) else {
            ok = false;
            continue;
        };
        match limits.iter().position(|l| l.name == s) {
            Some(i) if out.iter().any(|(j, _)| *j == i) => {
                ck.error(n.span, format!("rate limit {s:?} is listed twice"), "list each limit once");
                ok = false;
            }
            Some(i) => out.push((i, n.span)),
            None => {
                let known = limits.iter().map(|l| l.name.as_str()).collect::<Vec<_>>();
                let hint = match walk::closest(&s, &known) {
                    Some(c) => format!("did you mean {c:?}?"),
                    None if known.is_empty() => format!("define [rate_limits.{s}]"),
                    None => format!("define [rate_limits.{s}] or use one of: {}", known.join(", ")),
                };
                ck.error(n.span, format!("rate limit {s:?} is not defined"), hint);
                ok = false;
            }
        }
    }
    (ok || partial).then_some(out)
}

/// A behaviour's `rate_limits` and `access`, checked against its auth rule.
pub(super) fn parse_behaviour(
    ck: &mut Checker<'_>,
    f: &mut Fields<'_, '_>,
    what: &str,
    cfg: Option<&RateLimitConfig>,
    has_auth: Option<bool>,
) -> Option<BehaviourLimits> {
    let limits_node = f.take("rate_limits");
    let access_node = f.take("access");
    let Some(cfg) = cfg else {
        // The sections failed to parse; their errors are reported already.
        return (limits_node.is_none() && access_node.is_none()).then(BehaviourLimits::default);
    };
    let rate_limits = match limits_node {
        None => Some(Vec::new()),
        Some(n) => limit_refs(ck, n, &cfg.limits, "rate_limits", false).and_then(|refs| {
            let mut ok = true;
            for (i, span) in &refs {
                let lim = &cfg.limits[*i];
                if has_auth == Some(false) && (lim.key.iter().any(KeyPart::needs_identity) || lim.counting == Counting::FailedIdentity) {
                    ck.error(
                        *span,
                        format!("{what} has no auth rule, so rate limit {:?} would never count", lim.name),
                        "add auth = ..., or use a limit keyed by ip, header or cookie",
                    );
                    ok = false;
                }
            }
            ok.then(|| refs.into_iter().map(|(i, _)| i).collect())
        }),
    };
    let access = match access_node {
        None => Some(None),
        Some(n) => ck.string(n).and_then(|s| match cfg.access_rules.iter().position(|r| r.name == s) {
            Some(i) => Some(Some(i)),
            None => {
                let known = cfg.access_rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>();
                let hint = match walk::closest(&s, &known) {
                    Some(c) => format!("did you mean {c:?}?"),
                    None => format!("define [access_rules.{s}]"),
                };
                ck.error(n.span, format!("access rule {s:?} is not defined"), hint);
                None
            }
        }),
    };
    Some(BehaviourLimits { rate_limits: rate_limits?, access: access? })
}

impl RateLimitConfig {
    /// Environment names this config refers to.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        match &self.redis {
            Some(Setting::Env { name, .. }) => Some(name.as_str()),
            _ => None,
        }
        .into_iter()
    }
}
