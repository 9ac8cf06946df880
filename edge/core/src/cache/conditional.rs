//! Answers made from a stored entry: the client's preconditions (RFC 9110 13.2.2, in its
//! order: `If-Match`, `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since`), `HEAD`, and
//! a single `Range: bytes=` (206 with `Content-Range`, 416 when unsatisfiable). Several ranges,
//! or an `If-Range` that does not match, get the whole object (RFC 9110 allows it).
//!
//! ```
//! use verge_edge::cache::conditional::{parse_range, ByteRange};
//! assert_eq!(parse_range("bytes=0-99", 1000), Some(ByteRange::Satisfiable(0, 99)));
//! assert_eq!(parse_range("bytes=-10", 1000), Some(ByteRange::Satisfiable(990, 999)));
//! assert_eq!(parse_range("bytes=2000-", 1000), Some(ByteRange::Unsatisfiable));
//! assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

use super::Entry;

/// Headers a 304 carries (RFC 9110 15.4.5): what a 200 would have said about caching.
const NOT_MODIFIED_HEADERS: [header::HeaderName; 6] =
    [header::CACHE_CONTROL, header::CONTENT_LOCATION, header::DATE, header::ETAG, header::EXPIRES, header::VARY];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// First and last byte, inclusive.
    Satisfiable(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range against a length; `None` for anything else (several ranges, other
/// units, malformed), which is answered with the whole object.
pub fn parse_range(v: &str, len: u64) -> Option<ByteRange> {
    let spec = v.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| if s.bytes().all(|c| c.is_ascii_digit()) && !s.is_empty() { s.parse::<u64>().ok() } else { None };
    let range = match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n = num(b)?;
            if n == 0 || len == 0 {
                return Some(ByteRange::Unsatisfiable);
            }
            ByteRange::Satisfiable(len.saturating_sub(n), len - 1)
        }
        (false, _) => {
            let first = num(a)?;
            let last = if b.is_empty() { u64::MAX } else { num(b)? };
            if last < first {
                return None;
            }
            if first >= len {
                return Some(ByteRange::Unsatisfiable);
            }
            ByteRange::Satisfiable(first, last.min(len - 1))
        }
        (true, true) => return None,
    };
    Some(range)
}

/// An HTTP date (IMF-fixdate; RFC 850 and asctime forms are not accepted and count as absent).
pub fn http_date(v: &str) -> Option<SystemTime> {
    let t = OffsetDateTime::parse(v.trim(), &Rfc2822).ok()?;
    let secs = u64::try_from(t.unix_timestamp()).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

fn opaque(tag: &str) -> (bool, &str) {
    let tag = tag.trim();
    match tag.strip_prefix("W/") {
        Some(t) => (true, t),
        None => (false, tag),
    }
}

/// Whether a list of entity tags matches `etag`; `strong` asks for strong comparison.
fn tag_matches(list: &str, etag: Option<&str>, strong: bool) -> bool {
    let Some(etag) = etag else { return false };
    let (weak_have, have) = opaque(etag);
    list.split(',').any(|t| {
        let t = t.trim();
        if t == "*" {
            return true;
        }
        let (weak_want, want) = opaque(t);
        want == have && (!strong || (!weak_want && !weak_have))
    })
}

fn joined(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let v: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    (!v.is_empty()).then(|| v.join(","))
}

/// What the client's preconditions say about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    Proceed,
    NotModified,
    Failed,
}

pub fn evaluate(method: &Method, client: &HeaderMap, entry: &Entry) -> Precondition {
    let last_modified = entry.last_modified().and_then(http_date);
    let get_or_head = method == Method::GET || method == Method::HEAD;
    if let Some(list) = joined(client, header::IF_MATCH) {
        if !tag_matches(&list, entry.etag(), true) {
            return Precondition::Failed;
        }
    } else if let Some(since) = client.get(header::IF_UNMODIFIED_SINCE).and_then(|v| v.to_str().ok()).and_then(http_date) {
        if last_modified.is_none_or(|lm| lm > since) {
            return Precondition::Failed;
        }
    }
    if let Some(list) = joined(client, header::IF_NONE_MATCH) {
        if tag_matches(&list, entry.etag(), false) {
            return if get_or_head { Precondition::NotModified } else { Precondition::Failed };
        }
    } else if get_or_head {
        if let Some(since) = client.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()).and_then(http_date) {
            if last_modified.is_some_and(|lm| lm <= since) {
                return Precondition::NotModified;
            }
        }
    }
    Precondition::Proceed
}

/// The answer to `method` with the client's `headers` from `entry`: 304, 412, 206, 416, or the
/// whole object (without a body for HEAD).
pub fn respond(method: &Method, client: &HeaderMap, entry: &Entry) -> Response<Bytes> {
    let mut r = Response::new(Bytes::new());
    match evaluate(method, client, entry) {
        Precondition::NotModified => {
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            for name in NOT_MODIFIED_HEADERS {
                for v in entry.headers.get_all(&name) {
                    r.headers_mut().append(name.clone(), v.clone());
                }
            }
            return r;
        }
        Precondition::Failed => {
            *r.status_mut() = StatusCode::PRECONDITION_FAILED;
            return r;
        }
        Precondition::Proceed => {}
    }
    *r.status_mut() = entry.status;
    *r.headers_mut() = entry.headers.clone();
    let len = entry.body.len() as u64;
    let range = (method == Method::GET && entry.status == StatusCode::OK)
        .then(|| client.get(header::RANGE).and_then(|v| v.to_str().ok()))
        .flatten()
        .filter(|_| if_range_holds(client, entry))
        .and_then(|v| parse_range(v, len));
    let body = match range {
        Some(ByteRange::Satisfiable(first, last)) => {
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            set(&mut r, header::CONTENT_RANGE, &format!("bytes {first}-{last}/{len}"));
            entry.body.slice(first as usize..=last as usize)
        }
        Some(ByteRange::Unsatisfiable) => {
            *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            r.headers_mut().remove(header::CONTENT_TYPE);
            set(&mut r, header::CONTENT_RANGE, &format!("bytes */{len}"));
            Bytes::new()
        }
        None => entry.body.clone(),
    };
    if entry.status == StatusCode::OK {
        r.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    set(&mut r, header::CONTENT_LENGTH, &body.len().to_string());
    if method != Method::HEAD {
        *r.body_mut() = body;
    }
    r
}

/// `If-Range` (RFC 9110 13.1.5): the range applies only if the validator is the entry's (a
/// strong entity tag, or its exact `Last-Modified`).
fn if_range_holds(client: &HeaderMap, entry: &Entry) -> bool {
    let Some(v) = client.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else { return true };
    let v = v.trim();
    if v.starts_with('"') || v.starts_with("W/") {
        return !v.starts_with("W/") && entry.etag().is_some_and(|e| !e.starts_with("W/") && e.trim() == v);
    }
    entry.last_modified().is_some_and(|lm| lm.trim() == v)
}

fn set(r: &mut Response<Bytes>, name: header::HeaderName, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        r.headers_mut().insert(name, v);
    }
}
