//! The freshness and storage rules, with a fake clock.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::*;
use crate::config::cache::{CachePolicy, QueryRule};

const T0: u64 = 1_800_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn date(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
    t.format(&time::format_description::well_known::Rfc2822).unwrap()
}

fn policy(min: u64, default: Option<u64>, max: u64) -> CachePolicy {
    CachePolicy {
        name: "t".into(),
        min_ttl: Duration::from_secs(min),
        default_ttl: default.map(Duration::from_secs),
        max_ttl: Duration::from_secs(max),
        query: QueryRule::None,
        headers: Vec::new(),
        cookies: Vec::new(),
        per_user: false,
        stale_while_revalidate: Duration::ZERO,
        stale_if_error: Duration::ZERO,
    }
}

fn judge_with(headers: &[(&str, &str)], status: u16, authenticated: bool, p: &CachePolicy) -> Assessment {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    let view = request_view(&Method::GET, "", &HeaderMap::new(), &h, authenticated);
    assess(&view, StatusCode::from_u16(status).unwrap(), &h, at(T0), p)
}

fn judge(headers: &[(&str, &str)]) -> Assessment {
    judge_with(headers, 200, false, &policy(0, None, 1_000_000))
}

#[test]
fn freshness_order_is_s_maxage_then_max_age_then_expires_then_heuristic() {
    let expires = date(T0 + 300);
    let d = date(T0);
    assert_eq!(judge(&[("cache-control", "max-age=60, s-maxage=120"), ("expires", &expires), ("date", &d)]).lifetime.as_secs(), 120);
    assert_eq!(judge(&[("cache-control", "max-age=60"), ("expires", &expires), ("date", &d)]).lifetime.as_secs(), 60);
    assert_eq!(judge(&[("expires", &expires), ("date", &d)]).lifetime.as_secs(), 300);
    let lm = date(T0 - 1000);
    assert_eq!(judge(&[("last-modified", &lm), ("date", &d)]).lifetime.as_secs(), 100, "10% of the time since Last-Modified");
    let heuristic_404 = judge_with(&[("last-modified", &lm), ("date", &d)], 404, false, &policy(0, None, 1_000_000));
    assert_eq!(heuristic_404.lifetime.as_secs(), 100, "404 is heuristically cacheable");
    let not_302 = judge_with(&[("last-modified", &lm), ("date", &d)], 302, false, &policy(0, None, 1_000_000));
    assert_eq!(not_302.lifetime.as_secs(), 0, "302 is not");
    assert_eq!(judge(&[("cache-control", "max-age=60"), ("age", "50")]).lifetime.as_secs(), 10, "Age counts against it");
}

#[test]
fn the_policy_bounds_and_default_apply() {
    let p = policy(30, Some(90), 600);
    assert_eq!(judge_with(&[("cache-control", "max-age=5")], 200, false, &p).lifetime.as_secs(), 30);
    assert_eq!(judge_with(&[("cache-control", "max-age=5000")], 200, false, &p).lifetime.as_secs(), 600);
    assert_eq!(judge_with(&[], 200, false, &p).lifetime.as_secs(), 90);
    assert_eq!(
        judge_with(&[("cache-control", "no-cache, max-age=60")], 200, false, &p).lifetime.as_secs(),
        0,
        "no-cache: stored, always revalidated"
    );
    let private = judge_with(&[("cache-control", "private, max-age=60")], 200, false, &p);
    assert_eq!(private.refused, Some("private"), "min_ttl never makes private storable");
    assert_eq!(judge_with(&[("cache-control", "no-store")], 200, false, &p).refused, Some("no-store"));
}

#[test]
fn authenticated_requests_need_public_s_maxage_or_must_revalidate() {
    let p = policy(0, None, 3600);
    assert_eq!(judge_with(&[("cache-control", "max-age=60")], 200, true, &p).refused, Some("authenticated"));
    for cc in ["public, max-age=60", "s-maxage=60", "max-age=60, must-revalidate"] {
        assert_eq!(judge_with(&[("cache-control", cc)], 200, true, &p).refused, None, "{cc}");
    }
}

#[test]
fn set_cookie_and_vary_star_are_never_stored() {
    assert_eq!(judge(&[("cache-control", "public, max-age=60"), ("set-cookie", "a=b")]).refused, Some("set-cookie"));
    assert_eq!(judge(&[("cache-control", "max-age=60"), ("vary", "Accept, *")]).refused, Some("vary-star"));
    assert_eq!(judge(&[("cache-control", "max-age=60")]).refused, None);
}

#[test]
fn cdn_cache_control_replaces_cache_control_and_expires_when_valid() {
    let expires = date(T0 + 9999);
    let a = judge(&[("cache-control", "no-store"), ("cdn-cache-control", "max-age=120"), ("expires", &expires)]);
    assert_eq!((a.refused, a.lifetime.as_secs()), (None, 120));
    let invalid = judge(&[("cache-control", "max-age=30"), ("cdn-cache-control", "max-age=(1 2")]);
    assert_eq!(invalid.lifetime.as_secs(), 30, "an invalid CDN-Cache-Control is ignored");
    assert_eq!(judge(&[("cache-control", "max-age=30"), ("cdn-cache-control", "")]).lifetime.as_secs(), 30);
    assert_eq!(judge(&[("cache-control", "max-age=30"), ("cdn-cache-control", "no-store")]).refused, Some("no-store"));
    assert_eq!(
        cdn_cache_control(&[(CDN_CACHE_CONTROL, HeaderValue::from_static("max-age=10, stale-while-revalidate=5"))].into_iter().collect())
            .as_deref(),
        Some("max-age=10, stale-while-revalidate=5")
    );
}

#[test]
fn stale_directives_apply_unless_revalidation_is_required() {
    let a = judge(&[("cache-control", "max-age=10, stale-while-revalidate=30, stale-if-error=300")]);
    assert_eq!((a.stale_while_revalidate.as_secs(), a.stale_if_error.as_secs()), (30, 300));
    for cc in ["no-cache", "must-revalidate", "proxy-revalidate", "s-maxage=10"] {
        let a = judge(&[("cache-control", &format!("max-age=10, {cc}, stale-while-revalidate=30, stale-if-error=30"))]);
        assert_eq!((a.stale_while_revalidate, a.stale_if_error), (Duration::ZERO, Duration::ZERO), "{cc}");
    }
}

#[test]
fn malformed_headers_never_lengthen_a_lifetime_or_panic() {
    assert_eq!(judge(&[("cache-control", "max-age=abc")]).lifetime.as_secs(), 0);
    assert_eq!(judge(&[("cache-control", "max-age=-5")]).lifetime.as_secs(), 0);
    assert!(judge(&[("cache-control", "max-age=60, max-age=3600")]).lifetime.as_secs() <= 60, "conflicting duplicates");
    assert_eq!(judge(&[("expires", "0")]).lifetime.as_secs(), 0, "an invalid Expires is already expired");
    assert_eq!(
        judge(&[("cache-control", "max-age=99999999999999999999999")]).lifetime.as_secs(),
        0,
        "an overflowing max-age is read as zero by http-cache-semantics: shorter, never longer"
    );
    let d = Directives::parse(&[(http::header::CACHE_CONTROL, HeaderValue::from_static("max-age=60, max-age=3600"))].into_iter().collect());
    assert!(d.has("must-revalidate"));
    for junk in [",,,", "=", "max-age", "max-age=", "stale-if-error=1e9", "\"", "s-maxage=\"10\"", "no-cache=\"set-cookie\""] {
        let _ = judge(&[("cache-control", junk), ("expires", junk), ("age", junk), ("cdn-cache-control", junk), ("vary", junk)]);
    }
}
