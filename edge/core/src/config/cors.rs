//! `[cors_policies.NAME]`: cross-origin access answered at the edge (`cors = "NAME"` on a
//! behaviour). CloudFront keeps these settings in its response headers policy; here they are a
//! table of their own so that `verge explain` and the preflight phase can name them.
//!
//! ```toml
//! [cors_policies.partners]
//! allow_origins = ["https://dashboard.example.com", "https://*.partners.example.com"]
//! allow_methods = ["GET", "POST"]
//! allow_headers = ["content-type", "x-api-key"]
//! expose_headers = ["x-request-id"]
//! allow_credentials = false
//! max_age_s = 600
//! ```
//!
//! A preflight (OPTIONS with `Origin` and `Access-Control-Request-Method`) is answered 204 by the
//! edge, before identity and rate limits, with no origin call. Any other request from an allowed
//! origin gets `Access-Control-Allow-Origin` with that one origin (never a list, never `*` with
//! credentials). A disallowed origin gets no CORS headers at all. Every answer of a behaviour whose
//! policy names origins carries `Vary: Origin`, so no cache between the edge and the browser
//! hands one origin's answer to another. [`CorsPolicy::evaluate`] is the whole decision, as a pure
//! function of the request's method and headers.

use http::{header, HeaderMap, HeaderName, HeaderValue, Method};

use super::walk::{self, AsNode, Checker, Fields, Node};

/// The Fetch standard's ceiling for `Access-Control-Max-Age` in Chromium is 2 hours, Firefox
/// 24 hours; 24 hours is the most any browser honours.
pub const MAX_AGE_LIMIT_S: i64 = 86_400;

/// One allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// Every origin (`"*"`): answered with `Access-Control-Allow-Origin: *`; refused with
    /// credentials.
    Any,
    /// One serialised origin, `scheme://host[:port]`, lower-case.
    Exact(String),
    /// `scheme://*.suffix[:port]`: any host with at least one label before `.suffix`.
    Subdomains { scheme: String, suffix: String, port: Option<u16> },
}

impl OriginPattern {
    /// Whether `origin` (the request's `Origin`, compared in lower case) is allowed.
    pub fn matches(&self, origin: &str) -> bool {
        match self {
            OriginPattern::Any => true,
            OriginPattern::Exact(o) => o.eq_ignore_ascii_case(origin),
            OriginPattern::Subdomains { scheme, suffix, port } => {
                let origin = origin.to_ascii_lowercase();
                let Some((s, rest)) = origin.split_once("://") else { return false };
                let Some((host, p)) = split_port(rest) else { return false };
                if s != scheme || p != *port {
                    return false;
                }
                match host.strip_suffix(suffix.as_str()).and_then(|h| h.strip_suffix('.')) {
                    Some(sub) => !sub.is_empty() && sub.split('.').all(is_label),
                    None => false,
                }
            }
        }
    }

    fn parse(s: &str) -> Result<OriginPattern, &'static str> {
        if s == "*" {
            return Ok(OriginPattern::Any);
        }
        let lower = s.to_ascii_lowercase();
        let (scheme, rest) = lower.split_once("://").ok_or("an origin is scheme://host[:port]")?;
        if scheme != "https" && scheme != "http" {
            return Err("the scheme must be http or https");
        }
        let (host, port) = split_port(rest).ok_or("an origin has no path, query or trailing '/', and a numeric port")?;
        match host.strip_prefix("*.") {
            Some(suffix) if suffix.contains('.') && suffix.split('.').all(is_label) => {
                Ok(OriginPattern::Subdomains { scheme: scheme.to_owned(), suffix: suffix.to_owned(), port })
            }
            Some(_) => Err("a pattern is *. followed by a domain of at least two labels, like *.example.com"),
            None if host.split('.').all(is_label) => Ok(OriginPattern::Exact(lower)),
            None => Err("the host must be letters, digits, '-' and '.', with '*' only as a whole first label"),
        }
    }

    fn as_text(&self) -> String {
        match self {
            OriginPattern::Any => "*".into(),
            OriginPattern::Exact(o) => o.clone(),
            OriginPattern::Subdomains { scheme, suffix, port: None } => format!("{scheme}://*.{suffix}"),
            OriginPattern::Subdomains { scheme, suffix, port: Some(p) } => format!("{scheme}://*.{suffix}:{p}"),
        }
    }
}

impl std::fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_text())
    }
}

fn is_label(l: &str) -> bool {
    (1..=63).contains(&l.len())
        && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// `host[:port]` with nothing after it; `None` if there is a path or a bad port.
fn split_port(rest: &str) -> Option<(&str, Option<u16>)> {
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    match rest.rsplit_once(':') {
        Some((h, p)) => Some((h, Some(p.parse().ok().filter(|p: &u16| *p != 0)?))),
        None => Some((rest, None)),
    }
}

/// A validated `[cors_policies.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    pub name: String,
    pub allow_origins: Vec<OriginPattern>,
    pub allow_methods: Vec<Method>,
    /// Lower-case request header names a cross-origin caller may send.
    pub allow_headers: Vec<HeaderName>,
    pub expose_headers: Vec<HeaderName>,
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` on preflight answers; `None`: not sent (browsers then keep a
    /// preflight 5 seconds).
    pub max_age_s: Option<u32>,
}

/// What a CORS policy says about one request ([`CorsPolicy::evaluate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsResult {
    /// OPTIONS with `Origin` and `Access-Control-Request-Method`: answered 204 at the edge.
    pub preflight: bool,
    pub outcome: CorsOutcome,
    /// Whether the answer carries `Vary: Origin` (whenever the allowed origin is echoed).
    pub vary_origin: bool,
}

/// Whether the request's origin may read the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOutcome {
    /// No `Origin` header: not a cross-origin request; no CORS headers.
    NotCors,
    /// The origin is not allowed: no CORS headers (the browser then refuses the answer).
    Refused { origin: String },
    /// Allowed: these headers go on the answer.
    Allowed { origin: String, headers: Vec<(HeaderName, HeaderValue)> },
}

impl CorsResult {
    /// Adds the result's headers to an answer; `Vary: Origin` is appended to what the answer
    /// varies on already, never twice.
    pub fn apply(&self, headers: &mut HeaderMap) {
        if let CorsOutcome::Allowed { headers: cors, .. } = &self.outcome {
            for (name, value) in cors {
                headers.insert(name.clone(), value.clone());
            }
        }
        if self.vary_origin {
            append_vary(headers, "origin");
        }
    }
}

/// Adds `token` to `Vary` unless it (or `*`) is there already.
pub fn append_vary(headers: &mut HeaderMap, token: &str) {
    let present = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token) || t.trim() == "*");
    if !present {
        if let Ok(v) = HeaderValue::from_str(token) {
            headers.append(header::VARY, v);
        }
    }
}

fn join<T: AsRef<str>>(items: &[T]) -> Option<HeaderValue> {
    let s = items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ");
    (!s.is_empty()).then(|| HeaderValue::from_str(&s).ok()).flatten()
}

impl CorsPolicy {
    /// The decision for a request with this method and these headers.
    pub fn evaluate(&self, method: &Method, request: &HeaderMap) -> CorsResult {
        let preflight = method == Method::OPTIONS && request.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let any = self.allow_origins.contains(&OriginPattern::Any) && !self.allow_credentials;
        let vary_origin = !any;
        let Some(origin) = request.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
            return CorsResult { preflight: false, outcome: CorsOutcome::NotCors, vary_origin };
        };
        let origin = origin.trim().to_owned();
        if !self.allow_origins.iter().any(|p| p.matches(&origin)) || HeaderValue::from_str(&origin).is_err() {
            return CorsResult { preflight, outcome: CorsOutcome::Refused { origin }, vary_origin };
        }
        let echo =
            if any { HeaderValue::from_static("*") } else { HeaderValue::from_str(&origin).unwrap_or(HeaderValue::from_static("null")) };
        let mut headers = vec![(header::ACCESS_CONTROL_ALLOW_ORIGIN, echo)];
        if self.allow_credentials {
            headers.push((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true")));
        }
        if preflight {
            let methods: Vec<&str> = self.allow_methods.iter().map(Method::as_str).collect();
            headers.extend(join(&methods).map(|v| (header::ACCESS_CONTROL_ALLOW_METHODS, v)));
            headers.extend(join(&self.allow_headers).map(|v| (header::ACCESS_CONTROL_ALLOW_HEADERS, v)));
            if let Some(age) = self.max_age_s {
                headers.push((header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age)));
            }
        } else {
            headers.extend(join(&self.expose_headers).map(|v| (header::ACCESS_CONTROL_EXPOSE_HEADERS, v)));
        }
        CorsResult { preflight, outcome: CorsOutcome::Allowed { origin, headers }, vary_origin }
    }
}

const KEYS: [&str; 6] = ["allow_origins", "allow_methods", "allow_headers", "expose_headers", "allow_credentials", "max_age_s"];

pub(super) fn parse(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<Vec<CorsPolicy>> {
    walk::named_tables(ck, node, "CORS policy", "cors_policies", parse_policy)
}

fn parse_policy(ck: &mut Checker<'_>, name: &str, node: Node<'_, '_>) -> Option<CorsPolicy> {
    let what = format!("[cors_policies.{name}]");
    let table = ck.table(node, &what)?;
    let mut f = Fields::new(ck, table, &what, &KEYS);
    let origins_node = f.require(ck, "allow_origins", "allow_origins = [\"https://app.example.com\"]");
    let origins = origins_node.and_then(|n| {
        strings(ck, n, "allow_origins", |ck, n, s| {
            OriginPattern::parse(s)
                .map_err(|why| {
                    ck.error(
                        n.span,
                        format!("{s:?} is not an allowed-origin pattern: {why}"),
                        "write \"https://app.example.com\", \"https://*.example.com\" or \"*\"",
                    )
                })
                .ok()
        })
    });
    let methods = f.take("allow_methods").map_or(Some(vec![Method::GET, Method::HEAD, Method::POST]), |n| {
        strings(ck, n, "allow_methods", |ck, n, s| match s.parse::<Method>() {
            Ok(m) if super::METHODS.contains(&s) => Some(m),
            _ => {
                ck.error(n.span, format!("unknown method {s:?}"), format!("use any of {}", super::METHODS.join(", ")));
                None
            }
        })
    });
    let allow_headers = f.take("allow_headers").map_or(Some(Vec::new()), |n| strings(ck, n, "allow_headers", cors_header));
    let expose_headers = f.take("expose_headers").map_or(Some(Vec::new()), |n| strings(ck, n, "expose_headers", cors_header));
    let credentials = f.take("allow_credentials").map_or(Some(false), |n| ck.boolean(n));
    let max_age = match f.take("max_age_s") {
        Some(n) => ck.int_in(n, 0, MAX_AGE_LIMIT_S).map(|s| Some(s as u32)),
        None => Some(None),
    };
    let (origins, credentials) = (origins?, credentials?);
    if credentials && origins.contains(&OriginPattern::Any) {
        ck.error(
            origins_node.map_or(table.span, |n| n.span),
            format!("{what} allows every origin (\"*\") with allow_credentials = true"),
            "browsers refuse `*` with credentials, and echoing any origin would let every site read signed-in answers: list the origins",
        );
        return None;
    }
    Some(CorsPolicy {
        name: name.to_owned(),
        allow_origins: origins,
        allow_methods: methods?,
        allow_headers: allow_headers?,
        expose_headers: expose_headers?,
        allow_credentials: credentials,
        max_age_s: max_age?,
    })
}

fn cors_header(ck: &mut Checker<'_>, n: Node<'_, '_>, s: &str) -> Option<HeaderName> {
    let parsed = HeaderName::from_bytes(s.to_ascii_lowercase().as_bytes()).ok();
    if parsed.is_none() {
        ck.error(n.span, format!("{s:?} is not a valid header name"), "header names are letters, digits and '-'");
    }
    parsed
}

/// A non-empty array of strings, each checked by `check` (which reports its own error), no
/// duplicates.
fn strings<T: PartialEq>(
    ck: &mut Checker<'_>,
    node: Node<'_, '_>,
    what: &str,
    mut check: impl FnMut(&mut Checker<'_>, Node<'_, '_>, &str) -> Option<T>,
) -> Option<Vec<T>> {
    let items = ck.array(node, what)?;
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        let n = item.node();
        let Some(s) = ck.string(n) else {
            ok = false;
            continue;
        };
        match check(ck, n, &s) {
            Some(v) if out.contains(&v) => {
                ck.error(n.span, format!("{s:?} is listed twice"), "list each once");
                ok = false;
            }
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    if ok && out.is_empty() {
        ck.error(node.span, format!("{what} is empty"), format!("list at least one, or remove {what}"));
        return None;
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{errors, with, with_src};

    fn policy(origins: &[&str], credentials: bool) -> CorsPolicy {
        CorsPolicy {
            name: "p".into(),
            allow_origins: origins.iter().map(|o| OriginPattern::parse(o).unwrap()).collect(),
            allow_methods: vec![Method::GET, Method::POST],
            allow_headers: vec![HeaderName::from_static("content-type")],
            expose_headers: vec![HeaderName::from_static("x-request-id")],
            allow_credentials: credentials,
            max_age_s: Some(600),
        }
    }

    fn req(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn subdomain_patterns_match_only_subdomains() {
        let p = OriginPattern::parse("https://*.example.com").unwrap();
        for yes in ["https://a.example.com", "https://a.b.example.com", "HTTPS://App.Example.com"] {
            assert!(p.matches(yes), "{yes}");
        }
        for no in [
            "https://example.com",
            "https://example.com.evil.com",
            "https://evilexample.com",
            "https://a.example.com.evil.com",
            "http://a.example.com",
            "https://a.example.com:8443",
            "https://a.example.com/",
            "https://.example.com",
            "https://a..example.com",
            "https://user@a.example.com",
            "null",
        ] {
            assert!(!p.matches(no), "{no}");
        }
        let exact = OriginPattern::parse("http://localhost:5173").unwrap();
        assert!(exact.matches("http://localhost:5173") && !exact.matches("http://localhost:5174"));
        for bad in ["example.com", "ftp://a.com", "https://*.com", "https://a.*.com", "https://a.com/", "https://a.com:0", "https://*"] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_allowed_origin_is_echoed_alone_with_vary() {
        let p = policy(&["https://app.example.com", "https://*.partners.example.com"], true);
        let r = p.evaluate(&Method::GET, &req(&[("origin", "https://x.partners.example.com")]));
        assert!(!r.preflight && r.vary_origin);
        let mut h = HeaderMap::new();
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding, Origin"));
        r.apply(&mut h);
        assert_eq!(h["access-control-allow-origin"], "https://x.partners.example.com");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-expose-headers"], "x-request-id");
        assert_eq!(h.get_all(header::VARY).iter().count(), 1, "Vary: Origin is never added twice");
        let mut fresh = HeaderMap::new();
        r.apply(&mut fresh);
        assert_eq!(fresh["vary"], "origin");
    }

    #[test]
    fn a_disallowed_origin_gets_no_cors_headers() {
        let p = policy(&["https://app.example.com"], false);
        let r = p.evaluate(&Method::OPTIONS, &req(&[("origin", "https://evil.test"), ("access-control-request-method", "POST")]));
        assert!(r.preflight);
        assert_eq!(r.outcome, CorsOutcome::Refused { origin: "https://evil.test".into() });
        let mut h = HeaderMap::new();
        r.apply(&mut h);
        assert!(h.keys().all(|k| !k.as_str().starts_with("access-control-")), "{h:?}");
        assert_eq!(p.evaluate(&Method::GET, &HeaderMap::new()).outcome, CorsOutcome::NotCors);
    }

    #[test]
    fn a_preflight_lists_methods_headers_and_max_age() {
        let p = policy(&["https://app.example.com"], false);
        let r = p.evaluate(&Method::OPTIONS, &req(&[("origin", "https://app.example.com"), ("access-control-request-method", "POST")]));
        let mut h = HeaderMap::new();
        r.apply(&mut h);
        assert_eq!(h["access-control-allow-methods"], "GET, POST");
        assert_eq!(h["access-control-allow-headers"], "content-type");
        assert_eq!(h["access-control-max-age"], "600");
        assert!(!h.contains_key("access-control-expose-headers"));
        let star = policy(&["*"], false).evaluate(&Method::GET, &req(&[("origin", "https://any.test")]));
        assert!(!star.vary_origin);
        let mut h = HeaderMap::new();
        star.apply(&mut h);
        assert_eq!(h["access-control-allow-origin"], "*");
    }

    #[test]
    fn config_errors_point_at_the_value() {
        let src = r#"
[cors_policies.p]
allow_origins = ["*", "https://*.com", "https://a.example.com"]
allow_credentials = true
allow_methods = ["GET", "FETCH"]
"#;
        let errs = errors(&with_src(src, "cors = \"p\""));
        for w in ["3:23: \"https://*.com\" is not an allowed-origin pattern", "5:25: unknown method \"FETCH\""] {
            assert!(errs.iter().any(|e| e.starts_with(w)), "missing {w:?} in {errs:#?}");
        }
        let src = "\n[cors_policies.p]\nallow_origins = [\"*\"]\nallow_credentials = true\n";
        let errs = errors(&with_src(src, "cors = \"p\""));
        assert!(errs.iter().any(|e| e.starts_with("3:17: [cors_policies.p] allows every origin")), "{errs:#?}");
        let cfg = with("\n[cors_policies.p]\nallow_origins = [\"https://a.example.com\"]\nallow_methods = [\"GET\"]\n", "cors = \"p\"");
        assert_eq!(cfg.behaviours[0].cors, Some(0));
    }
}
