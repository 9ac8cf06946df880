//! Cache keys: what makes two requests one entry.
//!
//! The key is the method group (GET and HEAD share entries), the normalised path, the query as
//! the policy says (none, all sorted, an allow-list, or all but a deny-list with `utm_*`-style
//! prefixes), the chosen headers with their values normalised, the chosen cookies, and for
//! `per_user` policies a hash of the identity the edge established. Cookie values and the
//! identity are hashed, so the key text never holds a secret and can be logged.
//!
//! ```
//! use verge_edge::cache::key::canonical_query;
//! use verge_edge::config::cache::QueryRule;
//! let deny = QueryRule::Deny(vec!["utm_*".into(), "fbclid".into()]);
//! assert_eq!(canonical_query(Some("b=2&utm_source=x&a=1&fbclid=z"), &deny), "a=1&b=2");
//! assert_eq!(canonical_query(Some("a=%41&a=B"), &QueryRule::All), "a=A&a=B");
//! ```

use http::{header, HeaderMap, HeaderName};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use crate::auth::Identity;
use crate::config::cache::{CachePolicy, QueryRule};
use crate::path::NormalPath;

/// Query parts are re-encoded with everything but RFC 3986's unreserved characters escaped, so
/// `%41` and `A` are one key.
const QUERY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A computed key. [`text`](Self::text) is readable and free of secrets; stores use
/// [`hash`](Self::hash) or [`url`](Self::url).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    text: String,
    hash: String,
    /// The key's resource part (policy, path, query), shared by all its variants: what an
    /// unsafe request invalidates.
    resource: String,
}

impl CacheKey {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Lower-case hex SHA-256 of the text: 64 characters, fit for any store's key.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// A URL naming the entry, for stores keyed by URL (the Workers Cache API).
    pub fn url(&self) -> String {
        format!("https://cache.verge.invalid/{}", self.hash)
    }

    /// The resource part: every variant of one URI shares it.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// A key for the edge's own records (the purge list), outside every policy's keys (those
    /// begin with `v1 `).
    pub fn fixed(name: &str) -> Self {
        CacheKey::from_parts(format!("verge-internal {name}"), String::new())
    }

    /// The key of an entry known only by its hash (a resource's variants record), for
    /// [`CacheStore`](super::CacheStore) calls, which use the hash alone.
    pub(crate) fn stored_as(hash: String) -> Self {
        CacheKey { text: String::new(), hash, resource: String::new() }
    }

    #[cfg(test)]
    pub(crate) fn for_test(resource: &str, variant: &str) -> Self {
        CacheKey::from_parts(resource.to_owned(), variant.to_owned())
    }

    fn from_parts(resource: String, variant: String) -> Self {
        let text = format!("{resource}{variant}");
        let hash = verge_signing::to_hex(Sha256::digest(text.as_bytes()));
        CacheKey { text, hash, resource }
    }
}

/// The query's parameters the rule keeps, decoded once, re-encoded canonically and sorted.
pub fn canonical_query(query: Option<&str>, rule: &QueryRule) -> String {
    canonical_query_with(query, |name| rule.keeps(name))
}

/// [`canonical_query`] with any test of names.
pub fn canonical_query_with(query: Option<&str>, keeps: impl Fn(&str) -> bool) -> String {
    let mut params: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let k = percent_decode_str(k).decode_utf8_lossy().into_owned();
            let v = percent_decode_str(v).decode_utf8_lossy().into_owned();
            keeps(&k).then_some((k, v))
        })
        .collect();
    params.sort();
    params
        .iter()
        .map(|(k, v)| format!("{}={}", utf8_percent_encode(k, QUERY_ESCAPE), utf8_percent_encode(v, QUERY_ESCAPE)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `Accept-Encoding` reduced to the codings the edge passes through as they are (gzip, br,
/// identity), in a fixed order, so that the dozens of browser spellings make at most four
/// entries. `q=0` excludes a coding.
pub fn normalise_accept_encoding(values: &[&str]) -> String {
    let mut has = [false; 2];
    for item in values.iter().flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")).is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        let slot = match coding.as_str() {
            "br" => 0,
            "gzip" | "x-gzip" => 1,
            _ => continue,
        };
        if !refused {
            has[slot] = true;
        }
    }
    match has {
        [true, true] => "br,gzip",
        [true, false] => "br",
        [false, true] => "gzip",
        [false, false] => "identity",
    }
    .to_owned()
}

/// One header's value in the key: trimmed, lower-cased where the field is case-insensitive,
/// repeated fields joined; `Accept-Encoding` reduced as above.
pub fn header_value(headers: &HeaderMap, name: &HeaderName) -> String {
    let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::trim).collect();
    if name == header::ACCEPT_ENCODING {
        return normalise_accept_encoding(&values);
    }
    let joined = values.join(",");
    if matches!(name.as_str(), "accept" | "accept-language" | "origin") {
        joined.to_ascii_lowercase().split(',').map(str::trim).collect::<Vec<_>>().join(",")
    } else {
        joined
    }
}

fn short_hash(data: &[u8]) -> String {
    verge_signing::to_hex(&Sha256::digest(data)[..16])
}

/// What a request contributes to its key.
pub struct KeyInput<'a> {
    pub policy: &'a CachePolicy,
    pub path: &'a NormalPath,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub identity: &'a Identity,
    /// The origin that will answer, on behaviours with a canary: the canary's answers and the
    /// primary's may differ, so they never share an entry. `None` elsewhere (a failover origin
    /// stands in for the primary and fills the primary's entries).
    pub origin: Option<&'a str>,
}

/// The key for a request under a policy.
pub fn compute(input: &KeyInput<'_>) -> CacheKey {
    let p = input.policy;
    let resource = format!("v1 {} {} ?{}", p.name, input.path.as_str(), canonical_query(input.query, &p.query));
    let mut variant = String::new();
    for name in &p.headers {
        variant.push_str(&format!(" h:{}={}", name.as_str(), header_value(input.headers, name)));
    }
    for name in &p.cookies {
        match crate::auth::cookie(input.headers, name) {
            Some(v) => variant.push_str(&format!(" c:{name}={}", short_hash(v.as_bytes()))),
            None => variant.push_str(&format!(" c:{name}")),
        }
    }
    if p.per_user {
        variant.push_str(&format!(" u:{}", user_hash(input.identity)));
    }
    if let Some(o) = input.origin {
        variant.push_str(&format!(" o:{o}"));
    }
    CacheKey::from_parts(resource, variant)
}

/// The identity as the key sees it: every identity header but the raw token (which changes on
/// every renewal for the same caller).
pub fn user_hash(identity: &Identity) -> String {
    let mut h = Sha256::new();
    for (k, v) in &identity.headers {
        if k.as_str() == crate::auth::TOKEN {
            continue;
        }
        h.update(k.as_str().as_bytes());
        h.update(b"\0");
        h.update(v.as_bytes());
        h.update(b"\n");
    }
    verge_signing::to_hex(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cache::CachePolicy;
    use http::HeaderValue;
    use std::time::Duration;

    fn policy(query: QueryRule, headers: &[&str], cookies: &[&str], per_user: bool) -> CachePolicy {
        CachePolicy {
            name: "p".into(),
            min_ttl: Duration::ZERO,
            default_ttl: None,
            max_ttl: Duration::from_secs(3600),
            query,
            headers: headers.iter().map(|h| HeaderName::from_bytes(h.as_bytes()).unwrap()).collect(),
            cookies: cookies.iter().map(|c| (*c).to_owned()).collect(),
            per_user,
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: Duration::ZERO,
        }
    }

    fn key(p: &CachePolicy, q: Option<&str>, hs: &[(&str, &str)], id: &Identity) -> CacheKey {
        let mut headers = HeaderMap::new();
        for (k, v) in hs {
            headers.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let path = NormalPath::parse("/api/stats").unwrap();
        compute(&KeyInput { policy: p, path: &path, query: q, headers: &headers, identity: id, origin: None })
    }

    #[test]
    fn query_order_tracking_parameters_and_escapes_do_not_split_entries() {
        let p = policy(QueryRule::Deny(vec!["utm_*".into(), "gclid".into()]), &[], &[], false);
        let id = Identity::default();
        let a = key(&p, Some("day=2026-11-30&region=eu"), &[], &id);
        assert_eq!(a, key(&p, Some("region=eu&utm_source=news&day=2026-11-30&gclid=x"), &[], &id));
        assert_eq!(a, key(&p, Some("region=%65u&day=2026-11-30&"), &[], &id));
        assert_ne!(a, key(&p, Some("day=2026-12-01&region=eu"), &[], &id));
        let none = policy(QueryRule::None, &[], &[], false);
        assert_eq!(key(&none, Some("x=1"), &[], &id), key(&none, None, &[], &id));
        let allow = policy(QueryRule::Allow(vec!["day".into()]), &[], &[], false);
        assert_eq!(key(&allow, Some("day=1&x=2"), &[], &id), key(&allow, Some("day=1"), &[], &id));
    }

    #[test]
    fn accept_encoding_is_reduced_to_what_the_edge_serves() {
        assert_eq!(normalise_accept_encoding(&["gzip, deflate, br, zstd"]), "br,gzip");
        assert_eq!(normalise_accept_encoding(&["br;q=0, gzip;q=0.5"]), "gzip");
        assert_eq!(normalise_accept_encoding(&["deflate"]), "identity");
        assert_eq!(normalise_accept_encoding(&[]), "identity");
        let p = policy(QueryRule::None, &["accept-encoding"], &[], false);
        let id = Identity::default();
        assert_eq!(key(&p, None, &[("accept-encoding", "gzip, br")], &id), key(&p, None, &[("accept-encoding", "br,gzip,zstd")], &id));
        assert_ne!(key(&p, None, &[("accept-encoding", "gzip")], &id), key(&p, None, &[], &id));
    }

    #[test]
    fn cookies_and_users_are_in_the_key_but_never_in_its_text() {
        let p = policy(QueryRule::None, &[], &["lang"], true);
        let ada =
            Identity { headers: vec![(HeaderName::from_static("x-verge-user"), HeaderValue::from_static("ada"))], ..Identity::default() };
        let bob =
            Identity { headers: vec![(HeaderName::from_static("x-verge-user"), HeaderValue::from_static("bob"))], ..Identity::default() };
        let a = key(&p, None, &[("cookie", "lang=en-secret; other=1")], &ada);
        assert!(!a.text().contains("en-secret") && !a.text().contains("ada"), "{}", a.text());
        assert_ne!(a, key(&p, None, &[("cookie", "lang=en-secret")], &bob));
        assert_eq!(a, key(&p, None, &[("cookie", "other=2; lang=en-secret")], &ada));
        assert_eq!(a.resource(), key(&p, None, &[], &bob).resource(), "variants share the resource");
        assert_eq!(a.hash().len(), 64);
    }
}
