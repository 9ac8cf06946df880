//! The cache's header parsing: `Range`, HTTP dates, `Cache-Control` / `CDN-Cache-Control`,
//! `Vary`, `Accept-Encoding` and query canonicalisation take any value without a panic, and a
//! satisfiable range lies inside the object.
#![no_main]
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use verge_edge::cache::conditional::{self, ByteRange};
use verge_edge::cache::{key, policy};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    for len in [0, 1, 1000, u64::MAX] {
        if let Some(ByteRange::Satisfiable(a, b)) = conditional::parse_range(s, len) {
            assert!(a <= b && b < len, "{s:?} against {len}: {a}-{b}");
        }
    }
    let _ = conditional::http_date(s);
    let mut headers = HeaderMap::new();
    for (i, line) in s.split('\n').enumerate() {
        let Ok(v) = HeaderValue::from_str(line) else { continue };
        let name = ["cache-control", "cdn-cache-control", "vary", "accept-encoding", "accept", "expires", "age"][i % 7];
        headers.append(HeaderName::from_static(name), v);
    }
    let d = policy::Directives::parse(&headers);
    let _ = d.seconds("max-age");
    let _ = d.seconds("s-maxage");
    let _ = policy::cdn_cache_control(&headers);
    let _ = policy::edge_view(&headers);
    let _ = policy::vary_names(&headers);
    let _ = key::header_value(&headers, &http::header::ACCEPT_ENCODING);
    let _ = key::header_value(&headers, &http::header::ACCEPT);
    let _ = key::canonical_query_with(Some(s), |k| k.len() % 2 == 0);
});
