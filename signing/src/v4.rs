//! The SigV4 computation itself: canonical request, string to sign, derived key, signature.
//!
//! Written here rather than taken from `aws-sigv4` because of what it costs per request on the
//! edge: `aws-sigv4` builds the canonical request through a second `HeaderMap`, `format!` and
//! `String` collections, and derives the signing key (four HMACs) on every call. Measured natively
//! with `cargo run --release -p verge-edge --example pipeline_cost`, its `sign` was 54% of the
//! edge core's whole cost for a forwarded request, and wasm has no SHA instructions. This module
//! writes the canonical request into one buffer and keeps the derived key per day, region and
//! service with the credentials ([`KeyCache`]).
//!
//! It follows `aws-sigv4` 1.6's rules exactly (the unit tests compare the two over thousands of
//! generated requests, `aws-sigv4` being a dev-dependency): the canonical path is normalised
//! (RFC 3986 5.2.4, empty segments dropped) and percent-encoded again for every profile but S3,
//! query parameters are form-decoded, re-encoded with only RFC 3986's unreserved characters left
//! as they are and sorted by encoded name then value, header values have their spaces trimmed
//! and runs of spaces folded, repeated fields are joined with commas, and `authorization`,
//! `user-agent`, `x-amzn-trace-id` and `transfer-encoding` are never signed.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Hex SHA-256 of an empty payload: most signed requests (GET, HEAD, DELETE) have one.
pub(crate) const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Headers SigV4 leaves unsigned even when the request has them: proxies and CDNs change them
/// (`aws-sigv4`'s defaults, the common set of the AWS SDKs).
pub(crate) const UNSIGNED: [&str; 4] = ["authorization", "user-agent", "x-amzn-trace-id", "transfer-encoding"];

/// Everything but RFC 3986's unreserved characters is percent-encoded (query names and values,
/// and path segments, where `/` is kept too).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
const PATH: &AsciiSet = &QUERY.remove(b'/');

/// How a profile canonicalises the path.
#[derive(Clone, Copy)]
pub(crate) struct PathRules {
    /// Remove dot segments and empty segments first.
    pub normalise: bool,
    /// Percent-encode the (already encoded) path again, as every AWS service but S3 expects.
    pub encode_again: bool,
}

/// `YYYYMMDDTHHMMSSZ` (the `x-amz-date` format), in UTC. Times before 1970 are 1970.
pub(crate) fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = String::with_capacity(16);
    let _ = write!(s, "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem / 60 % 60, rem % 60);
    s
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm,
/// the inverse of [`crate::days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A header value as SigV4 signs it: spaces (only spaces) trimmed at both ends and each run of
/// spaces inside folded to one.
pub(crate) fn trim_spaces(v: &str) -> Cow<'_, str> {
    let v = v.trim_matches(' ');
    if !v.contains("  ") {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut last_space = false;
    for c in v.chars() {
        if !(c == ' ' && last_space) {
            out.push(c);
        }
        last_space = c == ' ';
    }
    Cow::Owned(out)
}

/// The canonical path (see [`PathRules`]).
fn canonical_path<'a>(path: &'a str, rules: PathRules) -> Cow<'a, str> {
    let path = if rules.normalise { normalise_path(path) } else { Cow::Borrowed(path) };
    if !rules.encode_again {
        return path;
    }
    let encoded = match Cow::from(percent_encoding::utf8_percent_encode(&path, PATH)) {
        Cow::Borrowed(_) => None,
        Cow::Owned(s) => Some(s),
    };
    encoded.map_or(path, Cow::Owned)
}

/// RFC 3986 5.2.4 dot-segment removal as AWS applies it: `.` and empty segments are dropped,
/// `..` removes the segment before it, and a path that ended in a slash (or `.`/`..`) keeps one.
fn normalise_path(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed("/");
    }
    let rooted: Cow<'_, str> = if path.starts_with('/') { Cow::Borrowed(path) } else { Cow::Owned(format!("/{path}")) };
    if !rooted.contains('.') && !rooted.contains("//") {
        return rooted;
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in rooted.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let mut out = String::with_capacity(rooted.len());
    for s in &kept {
        out.push('/');
        out.push_str(s);
    }
    let ends_with_slash = ["/", "/.", "/./", "/..", "/../"].iter().any(|e| rooted.ends_with(e));
    if out.is_empty() || (ends_with_slash && !out.ends_with('/')) {
        out.push('/');
    }
    Cow::Owned(out)
}

/// The canonical query string: form-decoded pairs, re-encoded, sorted by name then value.
fn canonical_query(query: &str, out: &mut String) {
    if query.is_empty() {
        return;
    }
    let enc = |s: &str| -> String { percent_encoding::utf8_percent_encode(s, QUERY).to_string() };
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (enc(&k), enc(&v))).collect();
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// What [`canonical_request`] signs: the headers are `(name, value)` with lowercase names,
/// sorted by name and unique, values already trimmed and joined.
pub(crate) struct Canonical<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a [(&'a str, Cow<'a, str>)],
    pub payload_hash: &'a str,
    pub rules: PathRules,
}

impl Canonical<'_> {
    /// `name1;name2;...`
    pub(crate) fn signed_headers(&self) -> String {
        let mut s = String::with_capacity(self.headers.len() * 16);
        for (i, (name, _)) in self.headers.iter().enumerate() {
            if i > 0 {
                s.push(';');
            }
            s.push_str(name);
        }
        s
    }

    /// The canonical request's text (AWS's "Create a canonical request").
    pub(crate) fn request(&self, signed_headers: &str) -> String {
        let mut s = String::with_capacity(256 + self.headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum::<usize>());
        s.push_str(self.method);
        s.push('\n');
        s.push_str(&canonical_path(self.path, self.rules));
        s.push('\n');
        canonical_query(self.query.unwrap_or(""), &mut s);
        s.push('\n');
        for (name, value) in self.headers {
            s.push_str(name);
            s.push(':');
            s.push_str(value);
            s.push('\n');
        }
        s.push('\n');
        s.push_str(signed_headers);
        s.push('\n');
        s.push_str(self.payload_hash);
        s
    }
}

/// The key derived from a secret for one day, region and service, kept with the credentials it
/// belongs to (clones share it): deriving it costs four HMACs, and it changes once a day. Holds
/// the HMAC already keyed, so a signature costs one HMAC of the string to sign.
#[derive(Default)]
pub(crate) struct KeyCache(Mutex<Option<Derived>>);

struct Derived {
    date: [u8; 8],
    region: String,
    service: String,
    mac: HmacSha256,
}

impl KeyCache {
    pub(crate) fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The hex signature of `string_to_sign` under the key of `secret` for `date` (`YYYYMMDD`),
    /// `region` and `service`.
    pub(crate) fn signature(&self, secret: &str, date: &str, region: &str, service: &str, string_to_sign: &str) -> String {
        let mut date8 = [0u8; 8];
        date8.copy_from_slice(date.as_bytes());
        let mut slot = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = slot.as_ref().is_some_and(|d| d.date == date8 && d.region == region && d.service == service);
        if !fresh {
            let hmac = |key: &[u8], data: &[u8]| -> [u8; 32] {
                let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
                m.update(data);
                m.finalize().into_bytes().into()
            };
            let k_date = hmac(format!("AWS4{secret}").as_bytes(), &date8);
            let k_region = hmac(&k_date, region.as_bytes());
            let k_service = hmac(&k_region, service.as_bytes());
            let k_signing = hmac(&k_service, b"aws4_request");
            let mac = HmacSha256::new_from_slice(&k_signing).expect("HMAC takes keys of any length");
            *slot = Some(Derived { date: date8, region: region.to_owned(), service: service.to_owned(), mac });
        }
        let mut mac = slot.as_ref().map(|d| d.mac.clone()).expect("derived above");
        drop(slot);
        mac.update(string_to_sign.as_bytes());
        crate::to_hex(mac.finalize().into_bytes())
    }
}

/// The string to sign for a canonical request made at `date_time` (`YYYYMMDDTHHMMSSZ`).
pub(crate) fn string_to_sign(date_time: &str, region: &str, service: &str, canonical_request: &str) -> String {
    let hashed = crate::to_hex(Sha256::digest(canonical_request.as_bytes()));
    let mut s = String::with_capacity(64 + 32 + region.len() + service.len() + 64);
    s.push_str("AWS4-HMAC-SHA256\n");
    s.push_str(date_time);
    s.push('\n');
    push_scope(&mut s, &date_time[..8], region, service);
    s.push('\n');
    s.push_str(&hashed);
    s
}

/// `YYYYMMDD/region/service/aws4_request`
pub(crate) fn push_scope(s: &mut String, date: &str, region: &str, service: &str) {
    s.push_str(date);
    s.push('/');
    s.push_str(region);
    s.push('/');
    s.push_str(service);
    s.push_str("/aws4_request");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates_format_as_aws_wants_them() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(amz_date(at(1_440_938_160)), "20150830T123600Z");
        assert_eq!(amz_date(at(0)), "19700101T000000Z");
        assert_eq!(amz_date(at(951_782_400)), "20000229T000000Z");
        assert_eq!(amz_date(at(4_102_444_799)), "20991231T235959Z");
        for days in [-1, 0, 59, 60, 365, 11_016, 20_000, 47_482] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(crate::days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
    }

    #[test]
    fn spaces_are_trimmed_and_folded_but_nothing_else() {
        assert_eq!(trim_spaces("  a   b  c "), "a b c");
        assert_eq!(trim_spaces("a\t\tb"), "a\t\tb");
        assert!(matches!(trim_spaces(" keep me "), Cow::Borrowed("keep me")));
        assert_eq!(trim_spaces("   "), "");
    }

    #[test]
    fn paths_normalise_as_aws_does() {
        let n = |p| normalise_path(p).into_owned();
        assert_eq!(n(""), "/");
        assert_eq!(n("a/b"), "/a/b");
        assert_eq!(n("/a//b/./c/../d"), "/a/b/d");
        assert_eq!(n("/a/b/."), "/a/b/");
        assert_eq!(n("/../.."), "/");
        assert_eq!(n("/a/.."), "/");
        assert_eq!(n("/a/b/"), "/a/b/");
        assert_eq!(n("/a.b/c"), "/a.b/c");
    }
}
