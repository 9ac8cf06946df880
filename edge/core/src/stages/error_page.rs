//! Custom error responses (`[[error_responses]]`, CloudFront's custom error pages): after every
//! request phase and before the finishing step, an answer whose status has a configured page is
//! answered, for a browser, with that page from the bucket and the configured status.
//!
//! - Who gets the page: a client whose `Accept` ranks `text/html` above JSON (a browser's
//!   navigation); API clients (`application/json`, `application/problem+json`, `*/*` from
//!   `fetch`) keep the origin's body or the edge's problem+json, so their error handling works.
//! - Which answers: the origin's (a 503 it sent) and the edge's own (a 502 when the origin is
//!   unreachable, a 404 from the bucket, a 429): an operator lists the statuses it wants pages for,
//!   and the headers that matter to the protocol (`Retry-After`, `WWW-Authenticate`, `Allow`)
//!   are kept. The finishing step then adds its headers as for any answer.
//! - When the page cannot be had (the bucket fails, the page is missing), the original answer
//!   goes out: an error page must never turn into a second error.
//! - Caching: the page is kept in memory for `error_caching_min_ttl`; on behaviours with a cache
//!   policy, an origin's error with a configured status and no freshness of its own is stored
//!   for that long ([`keep_error`]), so a failing origin is asked at most once per window and
//!   key (CloudFront's error caching minimum TTL), unless a stale entry can still be served.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};

use super::Ctx;
use crate::cache::policy::Assessment;
use crate::config::error_pages::ErrorResponse;
use crate::config::EdgeConfig;
use crate::platform::{Out, Platform};
use crate::problem::EdgeError;
use crate::target::Target;
use crate::upstream::{Body, Upstream};

/// The largest page kept; error pages are small.
const MAX_PAGE_BYTES: usize = 256 * 1024;

/// Pages fetched, by index into `[[error_responses]]`: one entry per configured page at most.
#[derive(Debug, Default)]
pub(crate) struct Pages(Mutex<HashMap<usize, Page>>);

#[derive(Debug, Clone)]
struct Page {
    fetched: SystemTime,
    content_type: HeaderValue,
    body: Bytes,
}

/// Whether `Accept` ranks HTML above JSON: a browser's navigation.
pub(crate) fn prefers_html(headers: &HeaderMap) -> bool {
    let (mut html, mut json) = (0.0f32, 0.0f32);
    for item in headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts.filter_map(|p| p.trim().strip_prefix("q=")).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        match media.as_str() {
            "text/html" | "application/xhtml+xml" => html = html.max(q),
            m if m.ends_with("/json") || m.ends_with("+json") => json = json.max(q),
            _ => {}
        }
    }
    html > 0.0 && html >= json
}

/// The configured response for an answer's status, if any.
pub(crate) fn rule_for(config: &EdgeConfig, status: StatusCode) -> Option<(usize, &ErrorResponse)> {
    config.error_responses.iter().enumerate().find(|(_, r)| r.status == status)
}

/// Replaces the answer with its page for a browser, when one is configured and can be had.
pub(crate) async fn custom<P: Platform>(
    cx: &mut Ctx<'_, P>,
    outcome: Result<Response<Body<P::Body>>, EdgeError>,
) -> Result<Response<Body<P::Body>>, EdgeError> {
    let status = match &outcome {
        Ok(r) => r.status(),
        Err(e) => e.status(),
    };
    let Some((index, rule)) = rule_for(&cx.edge.config, status) else { return outcome };
    if !prefers_html(cx.req.headers()) {
        return outcome;
    }
    let Some(page) = page(cx, index, rule).await else { return outcome };
    let mut kept = match &outcome {
        Ok(r) => r.headers().clone(),
        Err(e) => e.clone().into_response("").headers().clone(),
    };
    if let Err(e) = &outcome {
        cx.ex.log.error.get_or_insert_with(|| e.to_string());
    }
    let mut resp = Response::new(Body::Full(if cx.req.method() == Method::HEAD { Bytes::new() } else { page.body }));
    *resp.status_mut() = rule.response_status;
    let h = resp.headers_mut();
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW] {
        if let Some(v) = kept.remove(&name) {
            h.insert(name, v);
        }
    }
    h.insert(header::CONTENT_TYPE, page.content_type);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(resp)
}

/// The page, from memory within its TTL, else from the bucket.
async fn page<P: Platform>(cx: &Ctx<'_, P>, index: usize, rule: &ErrorResponse) -> Option<Page> {
    let pages = &cx.edge.error_pages;
    let cached = pages.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&index).cloned();
    if let Some(p) = cached.filter(|p| cx.now.duration_since(p.fetched).unwrap_or(Duration::MAX) < rule.min_ttl) {
        return Some(p);
    }
    let origin = &cx.edge.origins[rule.origin];
    let Target::S3 { base, bucket, path_style } = &origin.target else { return None };
    let up = Out(cx.platform);
    let bucket = crate::s3::Bucket { origin, base, bucket, path_style: *path_style };
    let resp = bucket.serve(&Method::GET, &rule.page, &HeaderMap::new(), false, &up, cx.now).await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned().unwrap_or(HeaderValue::from_static("text/html; charset=utf-8"));
    let body = up.read(resp.into_body()).await.ok().filter(|b| b.len() <= MAX_PAGE_BYTES)?;
    let page = Page { fetched: cx.now, content_type, body };
    pages.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(index, page.clone());
    Some(page)
}

/// On a cached behaviour: an origin's error with a configured status and no lifetime of its own
/// is kept for the rule's `error_caching_min_ttl` (not when a stale entry is there to serve
/// within `stale-if-error`: that entry must not be replaced by the error).
pub(crate) fn keep_error(config: &EdgeConfig, status: StatusCode, judged: &mut Assessment, has_stale: bool) {
    let Some((_, rule)) = rule_for(config, status) else { return };
    if has_stale || rule.min_ttl.is_zero() || !matches!(judged.refused, Some("no-lifetime" | "not-cacheable")) {
        return;
    }
    judged.lifetime = judged.lifetime.max(rule.min_ttl);
    judged.refused = None;
}
