//! The finishing step every response passes through, whichever phase made it: an origin's
//! answer, a login redirect, an edge error, or an answer given before the edge could start
//! ([`crate::boot_failure`], [`crate::malformed`]). pingora's `response_filter` plus `logging`.
//!
//! In order: an error becomes its problem response; the renewed session cookie goes on every
//! answer that is not an error; `x-request-id` on everything; then the log line's status and
//! duration, last, so it describes the response as sent.

use std::time::{Duration, SystemTime};

use http::{header, Response};

use super::Exchange;
use crate::problem::EdgeError;
use crate::upstream::Body;
use crate::Handled;

pub(crate) fn finish<B>(ex: Exchange<'_>, outcome: Result<Response<Body<B>>, EdgeError>, ended: Option<SystemTime>) -> Handled<B> {
    let Exchange { request_id, mut log, started, route: _, set_cookies } = ex;
    let mut response = match outcome {
        Ok(mut r) => {
            for c in set_cookies {
                r.headers_mut().append(header::SET_COOKIE, c);
            }
            r
        }
        Err(e) => {
            if log.error.is_none() {
                log.error = Some(e.to_string());
            }
            e.into_response(&request_id).map(Body::Full)
        }
    };
    crate::request_id::stamp(&mut response, &request_id);
    log.status = response.status().as_u16();
    if let (Some(start), Some(end)) = (started, ended) {
        log.duration_ms = end.duration_since(start).unwrap_or(Duration::ZERO).as_millis() as u64;
    }
    Handled { response, log }
}
