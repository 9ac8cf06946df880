//! Trace context: W3C `traceparent` / `tracestate` (Trace Context level 2) and AWS's
//! `X-Amzn-Trace-Id`, derived from the same trace id so that the edge's, the origin's and AWS's
//! traces join.
//!
//! - A valid `traceparent` from the client keeps its trace id and flags; the edge's hop gets a new
//!   span id, which becomes the `parent-id` the origin sees. Its `tracestate` is passed on (at
//!   most 32 members and 512 characters).
//! - Absent or invalid (the spec's rules: version `ff`, all-zero ids, upper-case hex, a version-00
//!   header of the wrong length), the edge starts a trace from the request's entropy, with the
//!   level-2 "random trace id" flag set and not sampled (the edge records nothing itself, so it
//!   does not ask the services behind it to), and drops any `tracestate`.
//! - `X-Amzn-Trace-Id: Root=1-{first 8 hex}-{next 24 hex};Parent={span};Sampled={0|1}`.
//!
//! ```
//! use verge_edge::trace::TraceContext;
//! let mut h = http::HeaderMap::new();
//! h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
//! let t = TraceContext::begin(&h, [7; 16]);
//! assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert!(t.amzn_trace_id().starts_with("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent="));
//! ```

use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
pub const AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// The sampled flag (level 1).
pub const FLAG_SAMPLED: u8 = 0x01;
/// The random-trace-id flag (level 2): the trace id's right 7 bytes are random.
pub const FLAG_RANDOM: u8 = 0x02;
/// Most list members in a `tracestate` (W3C Trace Context, 3.3.1.1).
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// The length past which a `tracestate` may be cut (3.3.1.5); the edge drops members from the
/// end until it fits.
pub const MAX_TRACESTATE_CHARS: usize = 512;

/// A parsed `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub version: u8,
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

/// Parses a `traceparent` value by the spec's rules: version 00 exactly 55 characters; a later
/// version at least 55, with `-` after the flags if longer (its extra fields ignored); `ff`
/// invalid; lower-case hex only; neither id all zeros.
pub fn parse_traceparent(s: &str) -> Option<TraceParent> {
    let b = s.as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = hex_byte(&b[0..2])?;
    if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    let mut trace_id = [0u8; 16];
    let mut parent_id = [0u8; 8];
    for (i, out) in trace_id.iter_mut().enumerate() {
        *out = hex_byte(&b[3 + 2 * i..5 + 2 * i])?;
    }
    for (i, out) in parent_id.iter_mut().enumerate() {
        *out = hex_byte(&b[36 + 2 * i..38 + 2 * i])?;
    }
    let flags = hex_byte(&b[53..55])?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some(TraceParent { version, trace_id, parent_id, flags })
}

/// Two lower-case hex digits.
fn hex_byte(two: &[u8]) -> Option<u8> {
    let d = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some(d(two[0])? << 4 | d(two[1])?)
}

/// A `tracestate` to pass on: the header's fields joined, each member checked for the
/// `key=value` shape, at most 32 members, cut to 512 characters. `None` when empty or invalid
/// (the spec: discard a `tracestate` that cannot be parsed).
pub fn tracestate(headers: &HeaderMap) -> Option<String> {
    let mut members: Vec<&str> = Vec::new();
    for v in headers.get_all(TRACESTATE) {
        for m in v.to_str().ok()?.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let (key, value) = m.split_once('=')?;
            let key_ok = !key.is_empty()
                && key.len() <= 256
                && key.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-*/@".contains(&c));
            let value_ok =
                !value.is_empty() && value.len() <= 256 && value.bytes().all(|c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=');
            if !key_ok || !value_ok || members.iter().any(|x| x.split_once('=').is_some_and(|(k, _)| k == key)) {
                return None;
            }
            members.push(m);
        }
    }
    if members.is_empty() || members.len() > MAX_TRACESTATE_MEMBERS {
        return None;
    }
    let mut out = members.join(",");
    while out.len() > MAX_TRACESTATE_CHARS {
        members.pop();
        out = members.join(",");
    }
    (!out.is_empty()).then_some(out)
}

/// The trace this request belongs to and the edge's span in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// The edge's span: the `parent-id` the origin sees.
    pub span_id: [u8; 8],
    /// The client's span, when its `traceparent` was valid.
    pub client_parent: Option<[u8; 8]>,
    /// Sampled and random-trace-id flags (other bits are zeroed, as level 2 asks).
    pub flags: u8,
    /// The client's `tracestate`, passed on when its `traceparent` was valid.
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// The context for a request: the client's trace when its `traceparent` is valid, else a
    /// new one; either way a new span for the edge, all from the request's entropy.
    pub fn begin(headers: &HeaderMap, entropy: [u8; 16]) -> TraceContext {
        let digest = Sha256::new().chain_update(b"verge-trace").chain_update(entropy).finalize();
        let mut span_id = [0u8; 8];
        span_id.copy_from_slice(&digest[16..24]);
        if span_id == [0; 8] {
            span_id[7] = 1;
        }
        let client = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(parse_traceparent);
        match client {
            Some(tp) => TraceContext {
                trace_id: tp.trace_id,
                span_id,
                client_parent: Some(tp.parent_id),
                flags: tp.flags & (FLAG_SAMPLED | FLAG_RANDOM),
                tracestate: tracestate(headers),
            },
            None => {
                let mut trace_id = [0u8; 16];
                trace_id.copy_from_slice(&digest[..16]);
                if trace_id == [0; 16] {
                    trace_id[15] = 1;
                }
                TraceContext { trace_id, span_id, client_parent: None, flags: FLAG_RANDOM, tracestate: None }
            }
        }
    }

    pub fn trace_id_hex(&self) -> String {
        verge_signing::to_hex(self.trace_id)
    }

    pub fn sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// The `traceparent` for the origin: version 00, the edge's span as the parent.
    pub fn traceparent(&self) -> String {
        let mut s = String::with_capacity(55);
        s.push_str("00-");
        s.push_str(&self.trace_id_hex());
        s.push('-');
        s.push_str(&verge_signing::to_hex(self.span_id));
        s.push('-');
        s.push_str(&verge_signing::to_hex([self.flags]));
        s
    }

    /// `X-Amzn-Trace-Id` with the same trace id: `Root=1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY`.
    pub fn amzn_trace_id(&self) -> String {
        let id = self.trace_id_hex();
        let mut s = String::with_capacity(80);
        s.push_str("Root=1-");
        s.push_str(&id[..8]);
        s.push('-');
        s.push_str(&id[8..]);
        s.push_str(";Parent=");
        s.push_str(&verge_signing::to_hex(self.span_id));
        s.push_str(if self.sampled() { ";Sampled=1" } else { ";Sampled=0" });
        s
    }

    /// Sets `traceparent`, `tracestate` (when there is one) and `X-Amzn-Trace-Id` on a request to
    /// an origin, replacing whatever the client sent.
    pub fn stamp(&self, headers: &mut HeaderMap) {
        headers.remove(TRACESTATE);
        let mut set = |name: HeaderName, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                headers.insert(name, v);
            }
        };
        set(TRACEPARENT, &self.traceparent());
        set(AMZN_TRACE_ID, &self.amzn_trace_id());
        if let Some(ts) = &self.tracestate {
            set(TRACESTATE, ts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// The W3C Trace Context test suite's cases (test/test.py), valid and invalid.
    #[test]
    fn traceparent_parsing_follows_the_spec() {
        let tp = parse_traceparent(GOOD).unwrap();
        assert_eq!((tp.version, tp.flags), (0, 1));
        assert_eq!(hex::encode(tp.parent_id), "00f067aa0ba902b7");
        let valid = [
            GOOD,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", // level 2: random trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", // unknown flags, ignored
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // a future version
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
        ];
        for v in valid {
            assert!(parse_traceparent(v).is_some(), "{v}");
        }
        let invalid = [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero parent id
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", // version 00, too long
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what-the-future-will-be-like",
        ];
        for v in invalid {
            assert!(parse_traceparent(v).is_none(), "{v}");
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_valid_trace_is_continued_with_a_new_span() {
        let t = TraceContext::begin(
            &headers(&[("traceparent", GOOD), ("tracestate", "congo=t61rcWkgMzE"), ("tracestate", "rojo=00f067aa0ba902b7")]),
            [1; 16],
        );
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(hex::encode(t.span_id), "00f067aa0ba902b7");
        assert!(t.sampled());
        let mut out = HeaderMap::new();
        t.stamp(&mut out);
        let tp = out["traceparent"].to_str().unwrap();
        assert!(tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && tp.ends_with("-01"), "{tp}");
        assert_eq!(parse_traceparent(tp).unwrap().parent_id, t.span_id);
        assert_eq!(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
        assert_eq!(
            out["x-amzn-trace-id"].to_str().unwrap(),
            format!("Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent={};Sampled=1", hex::encode(t.span_id))
        );
        // Unknown flags are zeroed on the way on.
        let ff = TraceContext::begin(&headers(&[("traceparent", &GOOD.replace("-01", "-ff"))]), [1; 16]);
        assert_eq!(ff.flags, FLAG_SAMPLED | FLAG_RANDOM);
    }

    #[test]
    fn an_invalid_trace_is_replaced_and_its_state_dropped() {
        let bad = headers(&[("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"), ("tracestate", "a=b")]);
        let t = TraceContext::begin(&bad, [2; 16]);
        assert_ne!(t.trace_id, [0; 16]);
        assert_eq!((t.flags, t.tracestate.as_deref(), t.client_parent), (FLAG_RANDOM, None, None));
        assert!(t.traceparent().ends_with("-02"));
        assert!(t.amzn_trace_id().ends_with(";Sampled=0"));
        // Another request's entropy, another trace; the same entropy, the same one.
        assert_ne!(TraceContext::begin(&bad, [3; 16]).trace_id, t.trace_id);
        assert_eq!(TraceContext::begin(&bad, [2; 16]), t);
    }

    #[test]
    fn tracestate_limits() {
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(tracestate(&headers(&[("tracestate", &many.join(","))])), None, "33 members");
        assert_eq!(tracestate(&headers(&[("tracestate", &many[..32].join(","))])).unwrap().split(',').count(), 32);
        let long: Vec<String> = (0..10).map(|i| format!("k{i}={}", "x".repeat(100))).collect();
        let cut = tracestate(&headers(&[("tracestate", &long.join(","))])).unwrap();
        assert!(cut.len() <= MAX_TRACESTATE_CHARS && cut.starts_with("k0="), "{}", cut.len());
        for bad in ["novalue", "UPPER=1", "a=1,a=2", "a=b=c"] {
            assert_eq!(tracestate(&headers(&[("tracestate", bad)])), None, "{bad}");
        }
        assert_eq!(tracestate(&headers(&[("tracestate", " a=1 , ,b=2")])).as_deref(), Some("a=1,b=2"));
    }
}
