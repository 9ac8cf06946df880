//! HTTP route matching as `spin up` does it.
//!
//! Spin (`crates/http/src/routes.rs`, `Router::build` and `RouteMatch`) hands each route to the
//! `routefinder` 0.5 crate: `/foo/...` becomes `/foo/*`, `:name` is a named single-segment
//! wildcard, and the best match is the first route, in routefinder's order, that matches.
//! This module is a port of that behaviour (routefinder's `RouteSpec::from_str`, `Segment`'s and
//! `RouteSpec`'s `Ord`, `RouteSpec::matches`, and Spin's `trailing_wildcard`), so precedence is
//! the same:
//!
//! - an exact route beats a wildcard (`/one` before `/...`), at the first segment where two
//!   routes differ an exact segment beats `:name`, which beats a trailing wildcard, so a longer
//!   wildcard prefix wins (`/one/two/...` before `/one/...`);
//! - leading and trailing slashes of the path are ignored (`/foo/` matches route `/foo`), but
//!   `spin-path-info` keeps Spin's trailing slash: route `/foo/...`, path `/foo/` gives `/`;
//! - private routes (`route = { private = true }`) are never matched; they are reachable only
//!   through service chaining ([`Router::synthetic`]).
//!
//! Where this differs from Spin, on purpose:
//! - a wildcard `*` that is not the last segment (`/*/x`, `/a/*.json`) is refused at load;
//!   routefinder panics on it at request time;
//! - routes that Spin would accept but never reach are errors at load instead of log lines:
//!   duplicates (Spin keeps the last one and logs an error) and routes under
//!   `/.well-known/spin/` (answered by the runtime itself);
//! - the route order for ties (routes of the same shape, such as `/:a` and `/:b`) is
//!   routefinder's single-node B-tree order (first declared first); Spin's may differ with more
//!   than eleven routes.

use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Paths under this prefix are answered by the runtime (`health`, `info`), never by a component.
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

/// The client address Spin gives a request that arrives through service chaining
/// (`crates/trigger-http/src/outbound_http.rs`).
pub const CHAINED_CLIENT_ADDR: std::net::SocketAddr = std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// routefinder's parsed route segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Slash,
    Dot,
    Exact(String),
    Param(String),
    Wildcard,
}

/// A route ready to match: its segments (routefinder's parse of the route with the base).
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub component: String,
    /// The route with the application base (`/`) applied, as Spin's `based_route`.
    pub based_route: String,
    /// The route as written in the manifest.
    pub raw_route: String,
    pub segments: Vec<Segment>,
}

impl Route {
    /// Prepares a route written in the manifest. The error says what is wrong with it.
    pub(crate) fn new(component: &str, raw_route: &str) -> Result<Self, String> {
        if !raw_route.starts_with('/') {
            // Spin prefixes a missing '/' silently; the manifest reference writes every route
            // with one, and a route without one is more likely a mistake.
            return Err("it does not start with '/'".into());
        }
        let based_route = sanitize(raw_route).to_owned();
        if based_route.starts_with(WELL_KNOWN_PREFIX) {
            return Err(format!("it is under {WELL_KNOWN_PREFIX}, which the runtime answers itself"));
        }
        let spec = match based_route.strip_suffix("/...") {
            Some(prefix) => format!("{prefix}/*"),
            None => based_route.clone(),
        };
        let segments = parse_spec(&spec)?;
        if segments.iter().rev().skip(1).any(|s| *s == Segment::Wildcard) {
            return Err("its wildcard is not at the end; write /prefix/... for a trailing wildcard".into());
        }
        Ok(Route { component: component.to_owned(), based_route, raw_route: raw_route.to_owned(), segments })
    }
}

/// Spin's `sanitize_with_base("/", route)` for a route that starts with '/': the base "/"
/// contributes nothing and one trailing '/' is removed (so route "/" becomes "").
fn sanitize(route: &str) -> &str {
    route.strip_suffix('/').unwrap_or(route)
}

/// routefinder 0.5 `RouteSpec::from_str`: split on '.' and '/', `*` is a wildcard, `:name` a
/// parameter, anything else literal text; a '.' after literal text joins it.
fn parse_spec(source: &str) -> Result<Vec<Segment>, String> {
    let trimmed = source.trim_start_matches('/').trim_end_matches('/');
    let mut segments: Vec<Segment> = Vec::new();
    let mut last_index = 0;
    let separators = trimmed.match_indices(['.', '/']).map(|(i, _)| i).chain(std::iter::once(trimmed.len()));
    for index in separators {
        // routefinder reads the separator with `chars().nth(byte index)`; kept as is so that
        // non-ASCII routes are split exactly as Spin splits them.
        let first_char = if last_index == 0 { None } else { trimmed.chars().nth(last_index - 1) };
        let section = trimmed.get(last_index..index).unwrap_or("");
        last_index = index + 1;
        let segment = match (section.chars().next(), section.len()) {
            (Some('*'), 1) => Some(Segment::Wildcard),
            (Some('*'), _) => {
                return Err(format!("since there can only be one wildcard, it doesn't need a name. replace `{section}` with `*`"))
            }
            (Some(':'), 1) => return Err("params must be named".into()),
            (Some(':'), _) => Some(Segment::Param(section[1..].to_owned())),
            (None, _) => None,
            _ => Some(Segment::Exact(section.to_owned())),
        };
        if first_char == Some('.') {
            if let Some(Segment::Exact(s)) = segments.last_mut() {
                s.push('.');
            } else {
                segments.push(Segment::Dot);
            }
        }
        if let Some(segment) = segment {
            if first_char == Some('/') {
                segments.push(Segment::Slash);
            }
            segments.push(segment);
        }
    }
    Ok(segments)
}

/// routefinder 0.5 `Segment`'s `Ord` (not a total order; copied as is).
fn segment_cmp(a: &Segment, b: &Segment) -> Ordering {
    use Ordering::*;
    use Segment::*;
    match (a, b) {
        (Exact(_), Exact(_)) | (Slash, Slash) | (Dot, Slash) | (Slash, Dot) | (Dot, Dot) | (Param(_), Param(_)) | (Wildcard, Wildcard) => {
            Equal
        }
        (Dot, _) => Greater,
        (Exact(_), _) => Greater,
        (Param(_), Exact(_)) => Less,
        (Param(_), _) => Greater,
        (Wildcard, Exact(_)) | (Wildcard, Param(_)) => Less,
        (Wildcard, _) => Greater,
        _ => Less,
    }
}

/// routefinder 0.5 `RouteSpec`'s `Ord`: `Less` sorts first and is tried first.
fn spec_cmp(a: &[Segment], b: &[Segment]) -> Ordering {
    let dots = |s: &[Segment]| s.iter().filter(|x| **x == Segment::Dot).count();
    a.iter()
        .zip(b)
        .map(|(x, y)| segment_cmp(x, y))
        .chain(std::iter::once_with(|| dots(a).cmp(&dots(b))))
        .chain(std::iter::once_with(|| b.len().cmp(&a.len())))
        .find(|c| *c != Ordering::Equal)
        .unwrap_or(Ordering::Less)
        .reverse()
}

enum Capture<'p> {
    Param(&'p str, &'p str),
    Wildcard(&'p str),
}

/// routefinder 0.5 `RouteSpec::matches` (with `inner_match`); `None` where routefinder panics.
fn spec_match<'s, 'p>(segments: &'s [Segment], path: &'p str) -> Option<Vec<Capture<'p>>>
where
    's: 'p,
{
    let mut path = path.trim_start_matches('/').trim_end_matches('/');
    let mut captures = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let next = segments.get(i + 1);
        path = match segment {
            Segment::Exact(e) => path.strip_prefix(e.as_str())?,
            Segment::Param(name) => {
                if path.is_empty() {
                    return None;
                }
                match next {
                    None | Some(Segment::Slash) => {
                        let capture = path.split('/').next().unwrap_or("");
                        captures.push(Capture::Param(name, capture));
                        &path[capture.len()..]
                    }
                    Some(Segment::Dot) => {
                        let index = path.find(['.', '/'])?;
                        if path.chars().nth(index) != Some('.') {
                            return None;
                        }
                        captures.push(Capture::Param(name, &path[..index]));
                        &path[index..]
                    }
                    _ => return None,
                }
            }
            Segment::Wildcard => {
                if next.is_some() {
                    return None;
                }
                captures.push(Capture::Wildcard(path));
                ""
            }
            Segment::Slash => match (path.chars().next(), next) {
                (Some('/'), Some(_)) => &path[1..],
                (None, None) | (None, Some(Segment::Wildcard)) => path,
                _ => return None,
            },
            Segment::Dot => path.strip_prefix('.')?,
        };
    }
    (path.is_empty() || path == "/").then_some(captures)
}

/// The routes of an application, in matching order.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<Route>,
    /// Components with an HTTP trigger (routed or private): the targets service chaining can reach.
    http_components: BTreeSet<String>,
}

/// A matched request: which component answers and the routing facts Spin passes it in
/// `spin-*` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub component: &'a str,
    /// The route with the base applied (Spin's `based_route`; "" for the route "/").
    pub matched_route: String,
    /// The part of the path the trailing wildcard matched (Spin's `trailing_wildcard`), "" for
    /// an exact route.
    pub path_info: String,
    /// The route as written in the manifest.
    pub raw_route: String,
    /// The raw route without a trailing `/...`.
    pub component_route: String,
    /// `:name` segments and what they matched, in route order.
    pub named_wildcards: Vec<(String, String)>,
}

impl Router {
    /// Builds the router; `routes` in manifest order (they must already be free of duplicates),
    /// `http_components` every component with an HTTP trigger, private ones included.
    pub(crate) fn new(routes: Vec<Route>, http_components: BTreeSet<String>) -> Self {
        // routefinder keeps routes in a BTreeMap ordered by `spec_cmp`; inserting each before
        // the first route it sorts below reproduces that order (see the module docs for ties).
        let mut ordered: Vec<Route> = Vec::with_capacity(routes.len());
        for r in routes {
            let at = ordered.iter().position(|o| spec_cmp(&r.segments, &o.segments) == Ordering::Less).unwrap_or(ordered.len());
            ordered.insert(at, r);
        }
        Router { routes: ordered, http_components }
    }

    /// Spin's matching: exact routes and `/...` wildcards, the most specific wins; private
    /// components are not routable. `path` is the request URI's path, not decoded (Spin routes
    /// on `req.uri().path()`).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        self.routes.iter().find_map(|r| {
            let captures = spec_match(&r.segments, path)?;
            let mut named: Vec<(String, String)> = Vec::new();
            let mut wildcard = None;
            for c in captures {
                match c {
                    Capture::Param(name, value) => {
                        // Spin collects them into a HashMap: a repeated name keeps the last value.
                        named.retain(|(n, _)| n != name);
                        named.push((name.to_owned(), value.to_owned()));
                    }
                    Capture::Wildcard(w) => wildcard = Some(w),
                }
            }
            let path_info = match wildcard {
                None => String::new(),
                Some(s) => match (s.is_empty(), path.ends_with('/')) {
                    (true, false) => String::new(),
                    (true, true) => "/".to_owned(),
                    (false, false) => format!("/{s}"),
                    (false, true) => format!("/{s}/"),
                },
            };
            Some(RouteMatch {
                component: &r.component,
                matched_route: r.based_route.clone(),
                path_info,
                raw_route: r.raw_route.clone(),
                component_route: r.raw_route.strip_suffix("/...").unwrap_or(&r.raw_route).to_owned(),
                named_wildcards: named,
            })
        })
    }

    /// The match Spin makes for a service-chaining request to `http://COMPONENT.spin.internal/path`
    /// (`RouteMatch::synthetic`): as if the component had the route `/...`, with the whole path
    /// as path info. `None` if the component has no HTTP trigger (Spin answers such a request
    /// with an error).
    pub fn synthetic(&self, component: &str, path: &str) -> Option<RouteMatch<'_>> {
        let component = self.http_components.get(component)?;
        Some(RouteMatch {
            component,
            matched_route: "/...".into(),
            path_info: path.to_owned(),
            raw_route: "/...".into(),
            component_route: String::new(),
            named_wildcards: Vec::new(),
        })
    }

    /// The routed (non-private) routes in matching order, as `(route, component)`.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes.iter().map(|r| (r.raw_route.as_str(), r.component.as_str()))
    }
}

/// Whether two routes match exactly the same paths the same way (Spin would keep only one).
pub(crate) fn same_route(a: &Route, b: &Route) -> bool {
    a.segments == b.segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let routes = routes.iter().map(|(c, r)| Route::new(c, r).unwrap()).collect();
        Router::new(routes, BTreeSet::new())
    }

    fn component<'r>(r: &'r Router, path: &str) -> Option<&'r str> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn exact() {
        let r = router(&[("foo", "/foo"), ("foobar", "/foo/bar")]);
        assert_eq!(component(&r, "/foo"), Some("foo"));
        assert_eq!(component(&r, "/foo/bar"), Some("foobar"));
        assert_eq!(component(&r, "/foo/"), Some("foo"), "trailing slash ignored");
        assert_eq!(component(&r, "/foob"), None);
        assert_eq!(component(&r, "/"), None);
    }

    #[test]
    fn wildcard_matches_everything() {
        let r = router(&[("all", "/...")]);
        for p in ["/foo/bar", "/abc/", "/", "/this/should/be/captured"] {
            assert_eq!(component(&r, p), Some("all"), "{p}");
        }
    }

    #[test]
    fn longest_wildcard_wins_regardless_of_order() {
        let mut routes = vec![("one", "/one/..."), ("onetwo", "/one/two/..."), ("onetwothree", "/one/two/three/...")];
        for _ in 0..2 {
            let r = router(&routes);
            assert_eq!(component(&r, "/one/two/three/four"), Some("onetwothree"));
            assert_eq!(component(&r, "/one/two/x"), Some("onetwo"));
            assert_eq!(component(&r, "/one"), Some("one"));
            assert_eq!(component(&r, "/onetwo"), None);
            routes.reverse();
        }
    }

    #[test]
    fn exact_beats_wildcard_and_root() {
        let r = router(&[("wild", "/..."), ("one", "/one"), ("root", "/")]);
        assert_eq!(component(&r, "/one"), Some("one"));
        assert_eq!(component(&r, "/"), Some("root"));
        assert_eq!(component(&r, "/two"), Some("wild"));
        let m = r.route("/").unwrap();
        assert_eq!((m.matched_route.as_str(), m.raw_route.as_str(), m.path_info.as_str()), ("", "/", ""));
    }

    #[test]
    fn named_segments_sit_between_exact_and_wildcard() {
        let r = router(&[("wild", "/users/..."), ("param", "/users/:id"), ("exact", "/users/me")]);
        assert_eq!(component(&r, "/users/me"), Some("exact"));
        assert_eq!(component(&r, "/users/42"), Some("param"));
        assert_eq!(r.route("/users/42").unwrap().named_wildcards, vec![("id".into(), "42".into())]);
        assert_eq!(component(&r, "/users/42/x"), Some("wild"));
        assert_eq!(component(&r, "/users"), Some("wild"), "a param never matches an empty segment");
    }

    #[test]
    fn path_info_as_spin() {
        let r = router(&[("comp", "/...")]);
        assert_eq!(r.route("/1/2/3").unwrap().path_info, "/1/2/3");
        let r = router(&[("comp", "/1/...")]);
        assert_eq!(r.route("/1/2/3").unwrap().path_info, "/2/3");
        let r = router(&[("comp", "/test/...")]);
        for (path, info) in [("/test", ""), ("/test/", "/"), ("/test/hello", "/hello"), ("/test/hello/", "/hello/")] {
            assert_eq!(r.route(path).unwrap().path_info, info, "{path}");
        }
        assert_eq!(router(&[("c", "/x")]).route("/x").unwrap().path_info, "");
    }

    #[test]
    fn named_wildcards_as_spin() {
        let r = router(&[("comp", "/1/:two/3")]);
        assert_eq!(r.route("/1/2/3").unwrap().named_wildcards, vec![("two".into(), "2".into())]);
        let r = router(&[("comp", "/1/:two/...")]);
        let m = r.route("/1/2/3").unwrap();
        assert_eq!(m.named_wildcards, vec![("two".into(), "2".into())]);
        assert_eq!((m.path_info.as_str(), m.component_route.as_str()), ("/3", "/1/:two"));
        let r = router(&[("comp", "/files/:name.json")]);
        assert_eq!(r.route("/files/a.json").unwrap().named_wildcards, vec![("name".into(), "a".into())]);
        assert!(r.route("/files/a.txt").is_none());
    }

    #[test]
    fn star_suffix_is_a_trailing_wildcard_too() {
        let r = router(&[("c", "/foo/*")]);
        let m = r.route("/foo/bar").unwrap();
        assert_eq!((m.path_info.as_str(), m.component_route.as_str()), ("/bar", "/foo/*"));
    }

    #[test]
    fn bad_routes_are_refused() {
        for bad in ["foo", "/:", "/*name", "/*/x", "/a/*.json", "/.well-known/spin/health", "/.well-known/spin/..."] {
            assert!(Route::new("c", bad).is_err(), "{bad}");
        }
        for ok in ["/.well-known/spindle/...", "/.well-known/spin", "/.well-known/spi/..."] {
            assert!(Route::new("c", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn duplicates_are_detected_by_shape() {
        let same = |a, b| same_route(&Route::new("a", a).unwrap(), &Route::new("b", b).unwrap());
        assert!(same("/foo", "/foo"));
        assert!(same("/foo", "/foo/"));
        assert!(same("/foo/...", "/foo/*"));
        assert!(!same("/foo", "/foo/..."));
        assert!(!same("/:a", "/:b"));
    }

    #[test]
    fn synthetic_matches_for_chaining() {
        let r = Router::new(vec![], ["origin".to_owned()].into());
        let m = r.synthetic("origin", "/api/x").unwrap();
        assert_eq!((m.component, m.matched_route.as_str(), m.path_info.as_str()), ("origin", "/...", "/api/x"));
        assert_eq!(m.component_route, "");
        assert!(r.synthetic("edge", "/").is_none());
        assert!(r.route("/api/x").is_none(), "private components are not routable");
    }
}
