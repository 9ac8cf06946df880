//! `RateLimit-Policy` and `RateLimit`, draft-ietf-httpapi-ratelimit-headers-11: two
//! structured-field lists (RFC 9651) written with `sfv`, one item per policy, named after the
//! limit.
//!
//! ```text
//! RateLimit-Policy: "per-ip";q=30;w=60, "partners:daily";q=10000;w=86400
//! RateLimit: "per-ip";r=12;t=3
//! ```
//!
//! `q` is the limit per window `w` (seconds). `r` is what may be sent now (the requests the
//! bucket still holds) and `t` the seconds until it is full again, or, when nothing remains,
//! until the next request is admitted (the same value as `Retry-After`). The fields from drafts
//! up to -06 (`RateLimit-Limit`, `-Remaining`, `-Reset`) are not sent.

use http::{HeaderMap, HeaderName, HeaderValue};
use sfv::{key_ref, Integer, ListSerializer, StringRef};

use super::Report;

pub const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const STATE: HeaderName = HeaderName::from_static("ratelimit");

fn int(v: u64) -> Integer {
    Integer::try_from(i64::try_from(v).unwrap_or(i64::MAX).min(999_999_999_999_999)).unwrap_or(Integer::MAX)
}

/// Writes both fields from `report` (nothing for an empty one).
pub fn stamp(headers: &mut HeaderMap, report: &Report) {
    let mut policy = ListSerializer::new();
    for (name, q, w) in &report.policies {
        let Ok(name) = StringRef::from_str(name) else { continue };
        policy.bare_item(name).parameter(key_ref("q"), int(*q)).parameter(key_ref("w"), int(*w));
    }
    if let Some(v) = policy.finish().and_then(|s| HeaderValue::from_str(&s).ok()) {
        headers.insert(POLICY, v);
    }
    let mut state = ListSerializer::new();
    for (name, v) in &report.states {
        let Ok(name) = StringRef::from_str(name) else { continue };
        state.bare_item(name).parameter(key_ref("r"), int(v.remaining)).parameter(key_ref("t"), int(v.reset_secs()));
    }
    if let Some(v) = state.finish().and_then(|s| HeaderValue::from_str(&s).ok()) {
        headers.insert(STATE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::Verdict;

    #[test]
    fn both_fields_are_structured_lists() {
        let mut r = Report::default();
        r.policy("per-ip", 30, 60);
        r.policy("partners:daily", 10_000, 86_400);
        r.state("per-ip", Verdict { admitted: true, remaining: 12, reset_us: 2_500_000, retry_after_us: 0 });
        r.state("partners:daily", Verdict { admitted: false, remaining: 0, reset_us: 9_000_000, retry_after_us: 9_000_000 });
        let mut h = HeaderMap::new();
        stamp(&mut h, &r);
        assert_eq!(h[POLICY], r#""per-ip";q=30;w=60, "partners:daily";q=10000;w=86400"#);
        assert_eq!(h[STATE], r#""per-ip";r=12;t=3, "partners:daily";r=0;t=9"#);
        for f in [POLICY, STATE] {
            assert!(sfv::Parser::new(h[&f].to_str().unwrap()).parse::<sfv::List>().is_ok());
        }
    }

    #[test]
    fn an_empty_report_writes_nothing() {
        let mut h = HeaderMap::new();
        stamp(&mut h, &Report::default());
        assert!(h.is_empty());
    }
}
