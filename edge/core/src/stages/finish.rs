//! The finishing step every response passes through, whichever phase made it: an origin's
//! answer, a login redirect, an edge error, or an answer given before the edge could start
//! ([`crate::boot_failure`], [`crate::malformed`]). pingora's `response_filter` plus `logging`.
//!
//! In order: an error becomes its problem response; the renewed session cookie goes on every
//! answer, errors included; on a behaviour with a cache policy, `Cache-Status` (RFC 9211)
//! and `Age` on every answer, errors included; the CORS decision's headers and the behaviour's
//! headers policy ([`crate::config::headers`]), so edge errors and cache hits carry them too, and
//! `Server-Timing` where the policy asks for it; `x-request-id` on everything; then the log line's
//! status, cache outcome and duration, last, so it describes the response as sent.

use std::time::{Duration, SystemTime};

use http::{header, HeaderName, HeaderValue, Response};

use super::Exchange;
use crate::cache::status::{CacheStatus, Fwd};
use crate::problem::EdgeError;
use crate::upstream::Body;
use crate::Handled;

const CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");

pub(crate) fn finish<'e, B>(ex: Exchange<'e>, outcome: Result<Response<Body<B>>, EdgeError>, ended: Option<SystemTime>) -> Handled<'e, B> {
    let Exchange {
        request_id,
        mut log,
        started,
        route,
        set_cookies,
        cache,
        background,
        ratelimit,
        trace: _,
        cors,
        timings,
        log_sample_percent,
        log_draw,
    } = ex;
    let mut response = match outcome {
        Ok(r) => r,
        Err(e) => {
            if log.error.is_none() {
                log.error = Some(e.to_string());
            }
            e.into_response(&request_id).map(Body::Full)
        }
    };
    // A renewed session goes on every answer, errors included: the issuer may have rotated the
    // refresh token, so a dropped cookie would end the session at the next renewal.
    for c in set_cookies {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    if route.is_some_and(|r| r.behaviour.cache.is_some()) {
        let (status, age) = cache.unwrap_or_else(|| (CacheStatus::forwarded(Fwd::Bypass), Duration::ZERO));
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&status.header_value()) {
            h.insert(CACHE_STATUS, v);
        }
        if status.hit || status.stored || !h.contains_key(header::AGE) {
            h.insert(header::AGE, HeaderValue::from(age.as_secs()));
        }
        log.cache = Some(status.header_value());
    }
    // RateLimit-Policy / RateLimit on every answer of a limited behaviour, errors included.
    crate::ratelimit::headers::stamp(response.headers_mut(), &ratelimit);
    if !ratelimit.policies.is_empty() || ratelimit.refused.is_some() {
        log.rate_limit_decision = Some(if ratelimit.refused.is_some() { "refused" } else { "allowed" });
    }
    log.rate_limit = ratelimit.refused;
    // CORS after the cache (a stored answer never carries one origin's headers to another), then
    // the headers policy, whose overriding values no origin answer can weaken.
    if let Some(result) = &cors {
        result.apply(response.headers_mut());
    }
    let total = started.zip(ended).map(|(s, e)| e.duration_since(s).unwrap_or(Duration::ZERO));
    if let Some(policy) = route.and_then(|r| r.headers) {
        policy.apply(response.headers_mut());
        if policy.server_timing {
            if let Ok(v) = HeaderValue::from_str(&server_timing(total, &timings)) {
                response.headers_mut().insert(SERVER_TIMING, v);
            }
        }
    }
    if !ratelimit.store_errors.is_empty() {
        log.rate_limit_store = Some(ratelimit.store_errors.join("; "));
    }
    crate::request_id::stamp(&mut response, &request_id);
    log.status = response.status().as_u16();
    log.bytes = match response.body() {
        Body::Full(b) => Some(b.len() as u64),
        Body::Origin(_) => response.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()),
    };
    if let Some(total) = total {
        log.duration_ms = total.as_millis() as u64;
    }
    // Failures are always written; the rest as sampled (CloudFront real-time logs' sampling rate).
    log.sampled = log_draw < log_sample_percent || log.status >= 500 || log.error.is_some();
    Handled { response, log, background }
}

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// `edge;dur=12.0, identity;dur=0.4, cache;dur=0.1, origin;dur=10.2`, in milliseconds, with the
/// phases that ran.
fn server_timing(total: Option<Duration>, t: &super::Timings) -> String {
    let phases = [("edge", total), ("identity", t.identity), ("cache", t.cache), ("origin", t.origin)];
    let parts: Vec<String> =
        phases.iter().filter_map(|(name, d)| d.map(|d| format!("{name};dur={:.1}", d.as_secs_f64() * 1000.0))).collect();
    parts.join(", ")
}
