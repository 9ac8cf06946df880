//! Origin request policies: which parts of the client's request reach an `http` origin
//! (CloudFront's origin request policies). S3 origins only ever get the conditional and range
//! headers (`s3.rs`).
//!
//! - Without a cache policy or an origin request policy: the allow-list below, the query as
//!   received, no cookies (what the edge has always sent).
//! - With a cache policy: what is in the key always reaches the origin (its headers, cookies and
//!   query parameters), and, without an origin request policy, only that, as on CloudFront: a
//!   header the origin reads but the key ignores could make one caller's answer another's
//!   (cache poisoning). An origin request policy widens this on purpose.
//! - Never: `Authorization`, `Cookie` beyond the named cookies, the edge's own session cookies,
//!   `x-verge-*` and `x-amz-*` (the edge's identity headers and signature replace them), `Host`.

use http::{header, HeaderMap, HeaderName, HeaderValue};

use crate::config::cache::{CachePolicy, OriginRequestPolicy, QueryRule, EDGE_COOKIES};

/// The client headers sent by default (no policy, no cache).
pub static DEFAULT_HEADERS: [HeaderName; 9] = [
    header::ACCEPT,
    header::ACCEPT_LANGUAGE,
    header::CONTENT_TYPE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
    header::RANGE,
    HeaderName::from_static("idempotency-key"),
];

/// Sent for cached behaviours whatever the key says: the body's type, and the validators and
/// range the cache phase itself sets (it removes the client's first).
static CACHED_BASE: [HeaderName; 7] = [
    header::CONTENT_TYPE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
    header::RANGE,
    HeaderName::from_static("idempotency-key"),
];

/// Headers that never reach an origin from a client.
pub fn refused(name: &HeaderName) -> bool {
    let n = name.as_str();
    matches!(n, "authorization" | "host" | "cookie" | "proxy-authorization") || n.starts_with("x-verge-") || n.starts_with("x-amz-")
}

/// The client headers (and the `Cookie` header rebuilt from the named cookies) for the origin.
pub fn headers(cache: Option<&CachePolicy>, policy: Option<&OriginRequestPolicy>, client: &HeaderMap) -> HeaderMap {
    let mut names: Vec<&HeaderName> = match cache {
        None => DEFAULT_HEADERS.iter().collect(),
        Some(c) => CACHED_BASE.iter().chain(&c.headers).collect(),
    };
    let mut cookies: Vec<&str> = cache.map(|c| c.cookies.iter().map(String::as_str).collect()).unwrap_or_default();
    if let Some(p) = policy {
        names.extend(&p.headers);
        cookies.extend(p.cookies.iter().map(String::as_str));
    }
    let mut out = HeaderMap::new();
    for name in names {
        if refused(name) || out.contains_key(name) {
            continue;
        }
        for v in client.get_all(name) {
            out.append(name.clone(), v.clone());
        }
    }
    let jar: Vec<String> = cookies
        .iter()
        .filter(|c| !EDGE_COOKIES.contains(c))
        .filter_map(|c| crate::auth::cookie(client, c).map(|v| format!("{c}={v}")))
        .collect();
    if let Ok(v) = HeaderValue::from_str(&jar.join("; ")) {
        if !jar.is_empty() {
            out.insert(header::COOKIE, v);
        }
    }
    out
}

/// The query for the origin.
pub fn query(cache: Option<&CachePolicy>, policy: Option<&OriginRequestPolicy>, raw: Option<&str>) -> Option<String> {
    let rule = match (cache, policy) {
        (None, None) => return raw.map(str::to_owned),
        (None, Some(p)) if p.query == QueryRule::All => return raw.map(str::to_owned),
        (None, Some(p)) => Union(None, Some(&p.query)),
        (Some(c), p) => Union(Some(&c.query), p.map(|p| &p.query)),
    };
    let q = crate::cache::key::canonical_query_with(raw, |name| rule.keeps(name));
    (!q.is_empty()).then_some(q)
}

struct Union<'a>(Option<&'a QueryRule>, Option<&'a QueryRule>);

impl Union<'_> {
    fn keeps(&self, name: &str) -> bool {
        self.0.is_some_and(|r| r.keeps(name)) || self.1.is_some_and(|r| r.keeps(name))
    }
}
