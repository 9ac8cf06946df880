//! The `spin-*` request headers Spin adds for a matched request, as
//! `crates/trigger-http/src/headers.rs` (`compute_default_headers`, `prepare_header_key`)
//! computes them: names are Spin's `SPIN_*` keys with '_' turned into '-' and lowercased.

use std::net::SocketAddr;

use crate::routes::RouteMatch;

/// The headers, in Spin's order: `spin-path-info`, `spin-full-url`, `spin-matched-route`,
/// `spin-base-path` (always "/"), `spin-raw-component-route`, `spin-component-route`,
/// `spin-client-addr`, then one `spin-path-match-NAME` per `:name` segment.
///
/// `scheme` is the server's scheme ("http" or "https"), `host` the request's Host header
/// ("localhost" if it has none, as Spin), `path_and_query` the request target, e.g.
/// `/foo/bar?x=1`. The caller replaces any such headers the client sent.
pub fn spin_headers(m: &RouteMatch, scheme: &str, host: &str, path_and_query: &str, client_addr: SocketAddr) -> Vec<(String, String)> {
    let mut h = vec![
        ("spin-path-info".to_owned(), m.path_info.clone()),
        ("spin-full-url".to_owned(), format!("{scheme}://{host}{path_and_query}")),
        ("spin-matched-route".to_owned(), m.matched_route.clone()),
        ("spin-base-path".to_owned(), "/".to_owned()),
        ("spin-raw-component-route".to_owned(), m.raw_route.clone()),
        ("spin-component-route".to_owned(), m.component_route.clone()),
        ("spin-client-addr".to_owned(), client_addr.to_string()),
    ];
    for (name, value) in &m.named_wildcards {
        let key = format!("SPIN_PATH_MATCH_{}", name.to_ascii_uppercase());
        h.push((key.replace('_', "-").to_ascii_lowercase(), value.clone()));
    }
    h
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::routes::{Route, Router};

    fn get<'h>(h: &'h [(String, String)], name: &str) -> Option<&'h str> {
        h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Spin's `test_default_headers`.
    #[test]
    fn default_headers_as_spin() {
        let router = Router::new(vec![Route::new("DUMMY", "/foo/...").unwrap()], BTreeSet::new());
        let m = router.route("/foo/bar").unwrap();
        let client: SocketAddr = "127.0.0.1:8777".parse().unwrap();
        let h = spin_headers(&m, "https", "fermyon.dev", "/foo/bar?key1=value1&key2=value2", client);
        assert_eq!(get(&h, "spin-full-url"), Some("https://fermyon.dev/foo/bar?key1=value1&key2=value2"));
        assert_eq!(get(&h, "spin-path-info"), Some("/bar"));
        assert_eq!(get(&h, "spin-matched-route"), Some("/foo/..."));
        assert_eq!(get(&h, "spin-base-path"), Some("/"));
        assert_eq!(get(&h, "spin-raw-component-route"), Some("/foo/..."));
        assert_eq!(get(&h, "spin-component-route"), Some("/foo"));
        assert_eq!(get(&h, "spin-client-addr"), Some("127.0.0.1:8777"));
        assert_eq!(h.len(), 7);
        assert_eq!(h[0].0, "spin-path-info", "Spin's order");
    }

    /// Spin's `test_default_headers_with_named_wildcards`.
    #[test]
    fn named_wildcard_headers_as_spin() {
        let router = Router::new(vec![Route::new("DUMMY", "/foo/:userid/...").unwrap()], BTreeSet::new());
        let m = router.route("/foo/42/bar").unwrap();
        let client: SocketAddr = "127.0.0.1:8777".parse().unwrap();
        let h = spin_headers(&m, "https", "fermyon.dev", "/foo/42/bar?key1=value1&key2=value2", client);
        assert_eq!(get(&h, "spin-full-url"), Some("https://fermyon.dev/foo/42/bar?key1=value1&key2=value2"));
        assert_eq!(get(&h, "spin-path-info"), Some("/bar"));
        assert_eq!(get(&h, "spin-matched-route"), Some("/foo/:userid/..."));
        assert_eq!(get(&h, "spin-raw-component-route"), Some("/foo/:userid/..."));
        assert_eq!(get(&h, "spin-component-route"), Some("/foo/:userid"));
        assert_eq!(get(&h, "spin-path-match-userid"), Some("42"));
    }

    #[test]
    fn underscores_in_names_become_dashes() {
        let router = Router::new(vec![Route::new("c", "/:user_id").unwrap()], BTreeSet::new());
        let m = router.route("/7").unwrap();
        let h = spin_headers(&m, "http", "localhost", "/7", "127.0.0.1:1".parse().unwrap());
        assert_eq!(get(&h, "spin-path-match-user-id"), Some("7"));
    }
}
