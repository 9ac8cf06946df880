//! Whether a response may be stored, and for how long: RFC 9111's shared-cache rules as
//! `http-cache-semantics` implements them, plus the parts it lacks.
//!
//! - **`CDN-Cache-Control`** (RFC 9213): a structured-field dictionary, parsed with `sfv`. When
//!   valid and non-empty it replaces `Cache-Control` and `Expires` for the edge (the client
//!   still gets the origin's `Cache-Control`); an invalid one is ignored.
//! - **Stale directives** (RFC 5861): `stale-while-revalidate=N` lets the edge answer a stale
//!   entry at once and refresh it in the background; `stale-if-error=N` lets it answer a stale
//!   entry when the origin fails (500, 502, 503, 504, or no answer). Neither applies against
//!   `no-cache`, `must-revalidate`, `proxy-revalidate` or `s-maxage` (RFC 9111 4.2.4; `s-maxage`
//!   implies `proxy-revalidate`).
//! - **Never stored**: `no-store`, `private`, a `Set-Cookie` (another caller must never get
//!   someone's cookie), `Vary: *`, an authenticated request's response unless it says `public`,
//!   `s-maxage` or `must-revalidate` (RFC 9111 3.5; a caller the edge admitted counts as
//!   authenticated unless the policy keys on the caller).
//! - **Freshness**: `s-maxage` > `max-age` > `Expires - Date` > the policy's `default_ttl` >
//!   the heuristic (10% of the time since `Last-Modified`, heuristically cacheable statuses
//!   only), less `Age`, then clamped to `min_ttl..=max_ttl`. `no-cache` stores the response but
//!   makes it stale at once (every use revalidates), whatever `min_ttl` says. Malformed values
//!   never give a longer life than the header allows: an unparsable `max-age` or `Expires` is
//!   zero, conflicting duplicates mean `must-revalidate`.
//! - The client's own `Cache-Control` (`no-cache`, `max-age=0`) is not obeyed: as on CloudFront,
//!   a client cannot make the edge go to the origin (or any client could load it at will).
//!
//! `Warning: 113` is never sent: RFC 9111 made `Warning` obsolete.

use std::time::{Duration, SystemTime};

use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_cache_semantics::{CacheOptions, CachePolicy as Semantics};
use sha2::{Digest, Sha256};

use crate::config::cache::{CachePolicy, MAX_TTL_SECS};

pub const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// Statuses a cache may give heuristic freshness (RFC 9110 15.1).
const HEURISTIC_STATUSES: [u16; 12] = [200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501];

/// The response headers as the edge judges them: `CDN-Cache-Control`, when valid and non-empty,
/// stands in for `Cache-Control` and `Expires`.
pub fn edge_view(headers: &HeaderMap) -> HeaderMap {
    let mut view = headers.clone();
    view.remove(header::WARNING);
    if let Some(cc) = cdn_cache_control(headers) {
        view.remove(header::EXPIRES);
        view.remove(header::PRAGMA);
        match HeaderValue::from_str(&cc) {
            Ok(v) => {
                view.insert(header::CACHE_CONTROL, v);
            }
            Err(_) => {
                view.remove(header::CACHE_CONTROL);
            }
        }
    }
    view
}

/// `CDN-Cache-Control` as `Cache-Control` syntax, or `None` when absent, invalid or empty.
pub fn cdn_cache_control(headers: &HeaderMap) -> Option<String> {
    let mut joined = Vec::new();
    for v in headers.get_all(CDN_CACHE_CONTROL) {
        if !joined.is_empty() {
            joined.extend_from_slice(b", ");
        }
        joined.extend_from_slice(v.as_bytes());
    }
    if joined.is_empty() {
        return None;
    }
    let dict: sfv::Dictionary = sfv::Parser::new(&joined).parse().ok()?;
    let mut out = Vec::new();
    for (k, entry) in &dict {
        let sfv::ListEntry::Item(item) = entry else { continue };
        match &item.bare_item {
            sfv::BareItem::Boolean(true) => out.push(k.as_str().to_owned()),
            sfv::BareItem::Integer(n) => {
                let n = i64::from(*n);
                if n >= 0 {
                    out.push(format!("{}={n}", k.as_str()));
                }
            }
            sfv::BareItem::Token(t) => out.push(format!("{}={}", k.as_str(), t.as_str())),
            sfv::BareItem::String(s) => out.push(format!("{}=\"{}\"", k.as_str(), s.as_str().replace(['"', '\\'], ""))),
            _ => {}
        }
    }
    (!out.is_empty()).then(|| out.join(", "))
}

/// Response directives of the edge view, as a cache reads them: names lower-cased, values
/// unquoted; a directive repeated with different values is marked conflicting.
#[derive(Debug, Default, Clone)]
pub struct Directives(Vec<(String, Option<String>)>);

impl Directives {
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        let mut conflict = false;
        for part in headers.get_all(header::CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
            let (k, v) = match part.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().trim_matches('"').to_owned())),
                None => (part.trim().to_ascii_lowercase(), None),
            };
            if k.is_empty() {
                continue;
            }
            match out.iter().find(|(have, _)| *have == k) {
                Some((_, old)) if *old != v => conflict = true,
                Some(_) => {}
                None => out.push((k, v)),
            }
        }
        if conflict {
            out.push(("must-revalidate".into(), None));
        }
        Directives(out)
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// A delta-seconds value; malformed is `Some(0)` (never longer than the header allows),
    /// absent is `None`. Values past 2^31 are 2^31 (RFC 9111 1.2.2).
    pub fn seconds(&self, name: &str) -> Option<u64> {
        let (_, v) = self.0.iter().find(|(k, _)| k == name)?;
        let v = v.as_deref().unwrap_or("");
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Some(0);
        }
        Some(v.parse::<u64>().unwrap_or(u64::MAX).min(1 << 31))
    }
}

/// How the edge may use a response.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// Why it may not be stored, or `None` when it may.
    pub refused: Option<&'static str>,
    /// Freshness from the response time, clamped by the policy.
    pub lifetime: Duration,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
    /// The library's policy, for `Vary` matching, `Age` and revalidation.
    pub semantics: Semantics,
}

/// What the response was a response to, as the freshness rules see it: the method, the
/// resource, the values of the headers the response varies on (hashed: entries never hold a
/// client's header values), and whether the caller was authenticated.
pub fn request_view(method: &Method, resource: &str, client: &HeaderMap, vary: &HeaderMap, authenticated: bool) -> Request<()> {
    let mut req = Request::new(());
    *req.method_mut() = if method == Method::HEAD { Method::GET } else { method.clone() };
    *req.uri_mut() = http::Uri::builder().path_and_query("/").build().unwrap_or_default();
    let _ = resource;
    for name in vary_names(vary) {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else { continue };
        let mut h = Sha256::new();
        for v in client.get_all(&name) {
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        if client.contains_key(&name) {
            if let Ok(v) = HeaderValue::from_str(&verge_signing::to_hex(&h.finalize()[..16])) {
                req.headers_mut().insert(name, v);
            }
        }
    }
    if authenticated {
        req.headers_mut().insert(header::AUTHORIZATION, HeaderValue::from_static("edge-admitted"));
    }
    req
}

/// The header names a response's `Vary` lists, lower-cased (`*` included).
pub fn vary_names(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Judges a response received at `response_time` for the request `view`.
pub fn assess(view: &Request<()>, status: StatusCode, headers: &HeaderMap, response_time: SystemTime, policy: &CachePolicy) -> Assessment {
    let edge = edge_view(headers);
    let mut parts = http::Response::new(()).into_parts().0;
    parts.status = status;
    parts.headers = edge.clone();
    let semantics = Semantics::new_options(view, &parts, response_time, CacheOptions { shared: true, ..CacheOptions::default() });
    let d = Directives::parse(&edge);
    let refused = if headers.contains_key(header::SET_COOKIE) {
        Some("set-cookie")
    } else if vary_names(headers).iter().any(|v| v == "*") {
        Some("vary-star")
    } else if !semantics.is_storable() {
        Some(if d.has("no-store") {
            "no-store"
        } else if d.has("private") {
            "private"
        } else if view.headers().contains_key(header::AUTHORIZATION) {
            "authenticated"
        } else {
            "not-cacheable"
        })
    } else {
        None
    };
    let explicit = d.has("s-maxage") || d.has("max-age") || edge.contains_key(header::EXPIRES);
    let no_stale = d.has("no-cache") || d.has("must-revalidate") || d.has("proxy-revalidate") || d.has("s-maxage");
    let lifetime = if d.has("no-cache") {
        Duration::ZERO
    } else {
        let raw = match policy.default_ttl {
            Some(ttl) if !explicit && HEURISTIC_STATUSES.contains(&status.as_u16()) => ttl.saturating_sub(age_header(&edge)),
            _ => semantics.time_to_live(response_time),
        };
        raw.clamp(policy.min_ttl, policy.max_ttl)
    };
    // The origin's windows, else the policy's.
    let stale = |name, default: Duration| match d.seconds(name) {
        _ if no_stale => Duration::ZERO,
        Some(s) => Duration::from_secs(s.min(MAX_TTL_SECS as u64)),
        None => default,
    };
    let (swr, sie) = (stale("stale-while-revalidate", policy.stale_while_revalidate), stale("stale-if-error", policy.stale_if_error));
    // An entry with no lifetime, no validators and no stale window could never answer without a
    // whole new fetch: storing it would only cost a shared-tier write per request.
    let useless = lifetime.is_zero()
        && swr.is_zero()
        && sie.is_zero()
        && !headers.contains_key(header::ETAG)
        && !headers.contains_key(header::LAST_MODIFIED);
    Assessment {
        refused: refused.or(useless.then_some("no-lifetime")),
        lifetime,
        stale_while_revalidate: swr,
        stale_if_error: sie,
        semantics,
    }
}

fn age_header(headers: &HeaderMap) -> Duration {
    let secs = headers.get(header::AGE).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    Duration::from_secs(secs.min(MAX_TTL_SECS as u64))
}

/// Whether a stored response can answer a request that sends `vary`'d headers as in `view`.
pub fn vary_matches(semantics: &Semantics, view: &Request<()>, now: SystemTime) -> bool {
    match semantics.before_request(view, now) {
        http_cache_semantics::BeforeRequest::Fresh(_) => true,
        http_cache_semantics::BeforeRequest::Stale { matches, .. } => matches,
    }
}

#[cfg(test)]
mod tests;
