//! The finishing step every response passes through, whichever phase made it: an origin's
//! answer, a login redirect, an edge error, or an answer given before the edge could start
//! ([`crate::boot_failure`], [`crate::malformed`]). pingora's `response_filter` plus `logging`.
//!
//! In order: an error becomes its problem response; the renewed session cookie goes on every
//! answer, errors included; on a behaviour with a cache policy, `Cache-Status` (RFC 9211)
//! and `Age` on every answer, errors included; `x-request-id` on everything; then the log line's
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
    let Exchange { request_id, mut log, started, route, set_cookies, cache, background, ratelimit } = ex;
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
    log.rate_limit = ratelimit.refused;
    if !ratelimit.store_errors.is_empty() {
        log.rate_limit_store = Some(ratelimit.store_errors.join("; "));
    }
    crate::request_id::stamp(&mut response, &request_id);
    log.status = response.status().as_u16();
    if let (Some(start), Some(end)) = (started, ended) {
        log.duration_ms = end.duration_since(start).unwrap_or(Duration::ZERO).as_millis() as u64;
    }
    Handled { response, log, background }
}
