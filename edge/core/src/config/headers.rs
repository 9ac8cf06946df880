//! `[headers_policies.NAME]`: the response headers a behaviour's answers carry, modelled on
//! CloudFront's response headers policies. The security headers each have a name of their own
//! and a checked value; `custom` adds any other header; `remove` drops headers an origin sends
//! (its `Server`, `X-Powered-By`); `server_timing` turns on `Server-Timing`.
//!
//! ```toml
//! [headers_policies.web]
//! strict_transport_security = "max-age=63072000; includeSubDomains"
//! content_security_policy = "default-src 'self'; frame-ancestors 'none'"
//! frame_options = "DENY"
//! content_type_options = "nosniff"
//! referrer_policy = "strict-origin-when-cross-origin"
//! cross_origin_opener_policy = { value = "same-origin", override = false }
//! custom = [{ name = "X-Robots-Tag", value = "noindex" }]
//! remove = ["Server", "X-Powered-By"]
//! server_timing = false
//! ```
//!
//! Every header has `override` (default `true`, as for CloudFront's security headers): the
//! policy's value replaces the origin's, so an origin cannot weaken it. With `override = false`
//! the origin's own value, if it sends one, is kept. The policy is applied in the finishing step,
//! so edge errors and cache hits carry it as well as origin answers ([`HeadersPolicy::apply`]).

use http::{HeaderMap, HeaderName, HeaderValue};

use super::walk::{self, Checker, Fields, Node};

/// One header a policy sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHeader {
    pub name: HeaderName,
    pub value: HeaderValue,
    /// Replace the origin's value (`true`), or set it only when the answer has none (`false`).
    pub override_origin: bool,
}

/// A validated `[headers_policies.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadersPolicy {
    pub name: String,
    /// The headers set, security headers first, in the order of the table below, then `custom`.
    pub set: Vec<PolicyHeader>,
    /// Header names removed from every answer before the policy's own are set.
    pub remove: Vec<HeaderName>,
    /// Whether answers carry `Server-Timing` (off by default: it tells anyone how long the
    /// edge's identity check, cache and origin took).
    pub server_timing: bool,
}

impl HeadersPolicy {
    /// Applies the policy to an answer's headers: removals first, then each header, replacing
    /// the answer's value when `override_origin`, else only where the answer has none.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for h in &self.set {
            if h.override_origin || !headers.contains_key(&h.name) {
                headers.insert(h.name.clone(), h.value.clone());
            }
        }
    }
}

/// The named security headers: config key, header name, and how the value is checked.
const SECURITY: [(&str, &str, Check); 9] = [
    ("strict_transport_security", "strict-transport-security", Check::Hsts),
    ("content_security_policy", "content-security-policy", Check::Csp),
    ("content_security_policy_report_only", "content-security-policy-report-only", Check::Csp),
    ("frame_options", "x-frame-options", Check::OneOf(&["DENY", "SAMEORIGIN"])),
    ("content_type_options", "x-content-type-options", Check::OneOf(&["nosniff"])),
    (
        "referrer_policy",
        "referrer-policy",
        Check::OneOf(&[
            "no-referrer",
            "no-referrer-when-downgrade",
            "origin",
            "origin-when-cross-origin",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin",
            "unsafe-url",
        ]),
    ),
    ("permissions_policy", "permissions-policy", Check::Any),
    (
        "cross_origin_opener_policy",
        "cross-origin-opener-policy",
        Check::OneOf(&["same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none"]),
    ),
    ("cross_origin_resource_policy", "cross-origin-resource-policy", Check::OneOf(&["same-origin", "same-site", "cross-origin"])),
];

#[derive(Clone, Copy)]
enum Check {
    Hsts,
    Csp,
    OneOf(&'static [&'static str]),
    Any,
}

/// Headers a policy may neither set nor remove: the message's framing, what the edge sets itself
/// (CORS has its own `[cors_policies]`, the cache and rate limits their own fields), and cookies.
fn reserved(name: &str) -> bool {
    matches!(
        name,
        "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "upgrade"
            | "te"
            | "trailer"
            | "content-encoding"
            | "content-type"
            | "set-cookie"
            | "x-request-id"
            | "cache-status"
            | "age"
            | "vary"
            | "server-timing"
            | "ratelimit"
            | "ratelimit-policy"
            | "retry-after"
            | "www-authenticate"
            | "allow"
            | "location"
    ) || name.starts_with("access-control-")
}

/// Most headers a policy may set through `custom`, and remove (CloudFront allows 10 each).
pub const MAX_CUSTOM: usize = 10;

pub(super) fn parse(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<HeadersPolicy>> {
    walk::named_tables(ck, node, "headers policy", "headers_policies", parse_policy)
}

fn parse_policy(ck: &mut Checker<'_>, name: &str, node: Node<'_, '_>) -> Option<HeadersPolicy> {
    let what = format!("[headers_policies.{name}]");
    let table = ck.table(node, &what)?;
    let mut keys: Vec<&str> = SECURITY.iter().map(|(k, _, _)| *k).collect();
    keys.extend(["custom", "remove", "server_timing"]);
    let mut f = Fields::new(ck, table, &what, &keys);
    let mut ok = true;
    let mut set = Vec::new();
    for (key, header, check) in SECURITY {
        let Some(n) = f.take(key) else { continue };
        match header_value(ck, n, key, check) {
            Some((value, override_origin)) => set.push(PolicyHeader { name: HeaderName::from_static(header), value, override_origin }),
            None => ok = false,
        }
    }
    if let Some(n) = f.take("custom") {
        match parse_custom(ck, n, &set) {
            Some(custom) => set.extend(custom),
            None => ok = false,
        }
    }
    let remove = match f.take("remove") {
        Some(n) => parse_remove(ck, n, &set),
        None => Some(Vec::new()),
    };
    let server_timing = f.take("server_timing").map_or(Some(false), |n| ck.boolean(n));
    let policy = HeadersPolicy { name: name.to_owned(), set, remove: remove?, server_timing: server_timing? };
    ok.then_some(policy)
}

/// `"VALUE"` or `{ value = "VALUE", override = BOOL }`, checked by `check`.
fn header_value(ck: &mut Checker<'_>, n: Node<'_, '_>, key: &str, check: Check) -> Option<(HeaderValue, bool)> {
    let (value_node, override_origin) = match n.value {
        toml::de::DeValue::Table(t) => {
            let mut f = Fields::new(ck, walk::TableRef { span: n.span, table: t }, key, &["value", "override"]);
            let v = f.require(ck, "value", "value = \"...\"");
            let o = f.take("override").map_or(Some(true), |o| ck.boolean(o));
            (v?, o?)
        }
        _ => (n, true),
    };
    let s = ck.string(value_node)?;
    let problem = match check {
        Check::Hsts => hsts_problem(&s),
        Check::Csp => csp_problem(&s),
        Check::OneOf(allowed) if !allowed.contains(&s.as_str()) => Some(format!("use one of: {}", allowed.join(", "))),
        Check::OneOf(_) | Check::Any => None,
    };
    if let Some(hint) = problem {
        ck.error(value_node.span, format!("{s:?} is not a valid value for {key}"), hint);
        return None;
    }
    match HeaderValue::from_str(&s) {
        Ok(v) if !s.is_empty() => Some((v, override_origin)),
        _ => {
            ck.error(value_node.span, format!("{key} must be a non-empty header value"), "use visible ASCII on one line");
            None
        }
    }
}

/// RFC 6797: `max-age` is required, `includeSubDomains` and `preload` may follow.
fn hsts_problem(s: &str) -> Option<String> {
    let mut max_age = false;
    for d in s.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let lower = d.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("max-age=") {
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Some("max-age takes a number of seconds: \"max-age=63072000\"".into());
            }
            max_age = true;
        } else if lower != "includesubdomains" && lower != "preload" {
            return Some(format!("unknown directive {d:?}; use max-age=SECONDS, includeSubDomains, preload"));
        }
    }
    (!max_age).then(|| "max-age is required: \"max-age=63072000; includeSubDomains\"".into())
}

/// Each `;`-separated directive is a name of letters and '-', then its sources.
fn csp_problem(s: &str) -> Option<String> {
    let directives: Vec<&str> = s.split(';').map(str::trim).filter(|d| !d.is_empty()).collect();
    if directives.is_empty() {
        return Some("write directives such as \"default-src 'self'\"".into());
    }
    for d in directives {
        let name = d.split_ascii_whitespace().next().unwrap_or("");
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Some(format!("{d:?} is not a directive; directives look like \"script-src 'self'\""));
        }
    }
    None
}

/// `custom = [{ name = "X-Robots-Tag", value = "noindex", override = true }]`.
fn parse_custom(ck: &mut Checker<'_>, node: Node<'_, '_>, named: &[PolicyHeader]) -> Option<Vec<PolicyHeader>> {
    use walk::AsNode;
    let items = ck.array(node, "custom")?;
    if items.len() > MAX_CUSTOM {
        ck.error(node.span, format!("{} custom headers; at most {MAX_CUSTOM} are allowed", items.len()), "set fewer headers");
        return None;
    }
    let mut out: Vec<PolicyHeader> = Vec::new();
    let mut ok = true;
    for item in items {
        let n = item.node();
        let Some(t) = ck.table(n, "a custom header") else {
            ok = false;
            continue;
        };
        let mut f = Fields::new(ck, t, "a custom header", &["name", "value", "override"]);
        let name = f.require(ck, "name", "name = \"X-Robots-Tag\"").and_then(|n| header_name(ck, n));
        let value = f.require(ck, "value", "value = \"noindex\"").and_then(|v| {
            let s = ck.string(v)?;
            let hv = HeaderValue::from_str(&s).ok();
            if hv.is_none() {
                ck.error(v.span, format!("{s:?} is not a valid header value"), "use visible ASCII on one line");
            }
            hv
        });
        let override_origin = f.take("override").map_or(Some(true), |o| ck.boolean(o));
        let (Some((name, span)), Some(value), Some(override_origin)) = (name, value, override_origin) else {
            ok = false;
            continue;
        };
        if named.iter().chain(&out).any(|h| h.name == name) {
            ck.error(
                span,
                format!("header {name} is set twice in this policy"),
                "set each header once (named headers have their own keys)",
            );
            ok = false;
            continue;
        }
        out.push(PolicyHeader { name, value, override_origin });
    }
    ok.then_some(out)
}

fn parse_remove(ck: &mut Checker<'_>, node: Node<'_, '_>, set: &[PolicyHeader]) -> Option<Vec<HeaderName>> {
    use walk::AsNode;
    let items = ck.array(node, "remove")?;
    if items.len() > MAX_CUSTOM {
        ck.error(node.span, format!("{} headers to remove; at most {MAX_CUSTOM} are allowed", items.len()), "remove fewer headers");
        return None;
    }
    let mut out: Vec<HeaderName> = Vec::new();
    let mut ok = true;
    for item in items {
        let Some((name, span)) = header_name(ck, item.node()) else {
            ok = false;
            continue;
        };
        if set.iter().any(|h| h.name == name) {
            ck.error(span, format!("header {name} is both set and removed"), "a policy's own value replaces the origin's already");
            ok = false;
        } else if !out.contains(&name) {
            out.push(name);
        }
    }
    ok.then_some(out)
}

fn header_name(ck: &mut Checker<'_>, n: Node<'_, '_>) -> Option<(HeaderName, walk::Span)> {
    let s = ck.string(n)?;
    let lower = s.to_ascii_lowercase();
    let Ok(name) = HeaderName::from_bytes(lower.as_bytes()) else {
        ck.error(n.span, format!("{s:?} is not a valid header name"), "header names are letters, digits and '-'");
        return None;
    };
    if reserved(&lower) {
        let hint = if lower.starts_with("access-control-") {
            "CORS headers come from a [cors_policies.NAME] table (cors = \"NAME\" on the behaviour)"
        } else {
            "this header is the edge's own or the message's framing"
        };
        ck.error(n.span, format!("header {s:?} cannot be set or removed by a headers policy"), hint);
        return None;
    }
    if SECURITY.iter().any(|(_, h, _)| *h == lower) {
        if let Some((key, _, _)) = SECURITY.iter().find(|(_, h, _)| *h == lower) {
            ck.error(n.span, format!("{s} has its own key in a headers policy"), format!("write {key} = \"...\" instead"));
            return None;
        }
    }
    Some((name, n.span))
}

/// What a behaviour names of the response policies: `headers = "NAME"`, `cors = "NAME"`, and its
/// own `max_body_bytes`. `None` when one of them is wrong (reported).
pub(super) struct BehaviourRefs {
    pub headers: Option<usize>,
    pub cors: Option<usize>,
    pub max_body_bytes: Option<usize>,
}

/// The parsed policies behaviours may name; `None` for a table that had errors, so that a
/// reference to it is not reported as undefined as well.
pub(super) struct ResponsePolicies<'a> {
    pub headers: Option<&'a [HeadersPolicy]>,
    pub cors: Option<&'a [super::cors::CorsPolicy]>,
    /// `[edge] max_body_bytes`, which a behaviour's own limit may not exceed.
    pub max_body_bytes: usize,
}

pub(super) fn parse_behaviour_refs(ck: &mut Checker<'_>, f: &mut Fields<'_, '_>, policies: &ResponsePolicies<'_>) -> Option<BehaviourRefs> {
    let headers = match (f.take("headers"), policies.headers) {
        (Some(n), Some(list)) => {
            let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
            super::cache::policy_ref(ck, n, &names, "headers policy", "headers_policies").map(Some)
        }
        (Some(n), None) => ck.string(n).and(None),
        (None, _) => Some(None),
    };
    let cors = match (f.take("cors"), policies.cors) {
        (Some(n), Some(list)) => {
            let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
            let i = super::cache::policy_ref(ck, n, &names, "CORS policy", "cors_policies");
            i.map(Some)
        }
        (Some(n), None) => ck.string(n).and(None),
        (None, _) => Some(None),
    };
    let max_body_bytes = match f.take("max_body_bytes") {
        Some(n) => ck.int_in(n, 0, policies.max_body_bytes as i64).map(|v| Some(v as usize)),
        None => Some(None),
    };
    Some(BehaviourRefs { headers: headers?, cors: cors?, max_body_bytes: max_body_bytes? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{errors, with};

    const POLICY: &str = r#"
[headers_policies.web]
strict_transport_security = "max-age=63072000; includeSubDomains"
content_security_policy = "default-src 'self'; script-src 'self'"
frame_options = "DENY"
content_type_options = "nosniff"
referrer_policy = { value = "no-referrer", override = false }
custom = [{ name = "X-Robots-Tag", value = "noindex" }]
remove = ["Server", "x-powered-by"]
server_timing = true
"#;

    #[test]
    fn a_policy_overrides_adds_and_removes() {
        let cfg = with(POLICY, "headers = \"web\"");
        let p = &cfg.headers_policies[0];
        assert!(p.server_timing);
        assert_eq!(cfg.behaviours[0].headers, Some(0));
        let mut h = HeaderMap::new();
        h.insert("server", HeaderValue::from_static("origin/1.0"));
        h.insert("x-powered-by", HeaderValue::from_static("php"));
        h.insert("x-frame-options", HeaderValue::from_static("ALLOWALL"));
        h.insert("referrer-policy", HeaderValue::from_static("origin"));
        p.apply(&mut h);
        assert!(!h.contains_key("server") && !h.contains_key("x-powered-by"));
        assert_eq!(h["x-frame-options"], "DENY", "an origin cannot weaken an overriding header");
        assert_eq!(h["referrer-policy"], "origin", "override = false keeps the origin's value");
        assert_eq!(h["strict-transport-security"], "max-age=63072000; includeSubDomains");
        assert_eq!(h["x-robots-tag"], "noindex");
        let mut empty = HeaderMap::new();
        p.apply(&mut empty);
        assert_eq!(empty["referrer-policy"], "no-referrer");
    }

    #[test]
    fn bad_values_are_reported_with_their_position() {
        let src = r#"
[headers_policies.web]
strict_transport_security = "includeSubDomains"
frame_options = "ALLOW"
custom = [{ name = "Access-Control-Allow-Origin", value = "*" }, { name = "X-A", value = "1" }, { name = "x-a", value = "2" }]
remove = ["Content-Length", "X-A"]
unknown = 1
"#;
        let errs = errors(&crate::config::tests::with_src(src, "headers = \"webb\""));
        let want = [
            "3:29: \"includeSubDomains\" is not a valid value for strict_transport_security",
            "4:17: \"ALLOW\" is not a valid value for frame_options",
            "5:20: header \"Access-Control-Allow-Origin\" cannot be set",
            "5:106: header x-a is set twice",
            "6:11: header \"Content-Length\" cannot be set or removed",
            "7:1: unknown key `unknown` in [headers_policies.web]",
        ];
        for w in want {
            assert!(errs.iter().any(|e| e.starts_with(w)), "missing {w:?} in {errs:#?}");
        }
        let src = "\n[headers_policies.web]\ncustom = [{ name = \"X-A\", value = \"1\" }]\nremove = [\"x-a\", \"X-Frame-Options\"]\n";
        let errs = errors(&crate::config::tests::with_src(src, ""));
        assert!(errs.iter().any(|e| e.starts_with("4:11: header x-a is both set and removed")), "{errs:#?}");
        assert!(errs.iter().any(|e| e.starts_with("4:18: X-Frame-Options has its own key")), "{errs:#?}");
    }

    #[test]
    fn an_undefined_policy_is_named() {
        let errs = errors(&crate::config::tests::with_src(POLICY, "headers = \"wbe\""));
        assert!(errs.iter().any(|e| e.contains("headers policy \"wbe\" is not defined")), "{errs:?}");
    }
}
