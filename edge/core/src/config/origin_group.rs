//! A behaviour's second origins: `failover` (CloudFront's origin groups) and `canary`
//! (CloudFront's continuous deployment).
//!
//! ```toml
//! [[behaviours]]
//! path = "/api/*"
//! origin = "api"
//! failover = { origin = "api-b", statuses = [500, 502, 503, 504] }
//! canary = { origin = "api-next", weight = 5, header = "x-canary", cookie = "canary" }
//! ```
//!
//! - `failover`: when the primary refuses the connection, times out, or answers one of
//!   `statuses` (default 500, 502, 503, 504, CloudFront's choice), a GET, HEAD or OPTIONS is
//!   sent once more, to `origin`. Never for other methods: a POST the primary may have acted on
//!   must not be sent twice. At most two attempts in all.
//! - `canary`: `weight` percent of clients (0 to 100), sticky per client through the edge's
//!   cookie, or every request whose `header` or `cookie` says `1`/`true` (`0`/`false` forces the
//!   primary), goes to `origin` instead.

use http::{HeaderName, StatusCode};

use super::walk::{Checker, Fields, Node};
use super::{Origin, OriginKind, Origins};

/// CloudFront's default failover statuses (it offers 400, 403, 404, 416 and 5xx).
pub const DEFAULT_FAILOVER_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// Statuses an operator may fail over on (CloudFront's list).
const FAILOVER_STATUSES: [u16; 9] = [400, 403, 404, 416, 500, 502, 503, 504, 507];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// Index into [`super::EdgeConfig::origins`].
    pub origin: usize,
    pub statuses: Vec<StatusCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    /// Index into [`super::EdgeConfig::origins`].
    pub origin: usize,
    /// Percent of clients, 0 to 100.
    pub weight: u8,
    /// A header whose value `1`/`true` forces the canary (`0`/`false` the primary).
    pub header: Option<HeaderName>,
    /// A cookie read the same way.
    pub cookie: Option<String>,
}

/// A behaviour's `failover` and `canary`, both optional. `None` when either is invalid (errors
/// reported).
pub(super) fn parse_behaviour(
    ck: &mut Checker<'_>,
    f: &mut Fields<'_, '_>,
    what: &str,
    origins: &Origins,
    primary: Option<usize>,
) -> Option<(Option<Failover>, Option<Canary>)> {
    let failover = match f.take("failover") {
        None => Some(None),
        Some(n) => parse_failover(ck, n, what, origins).map(Some),
    };
    let canary = match f.take("canary") {
        None => Some(None),
        Some(n) => parse_canary(ck, n, what, origins).map(Some),
    };
    let (failover, canary) = (failover?, canary?);
    let mut ok = true;
    if let Some(p) = primary {
        for (name, second) in [("failover", failover.as_ref().map(|f| f.origin)), ("canary", canary.as_ref().map(|c| c.origin))] {
            let Some(second) = second else { continue };
            let (a, b) = (&origins.valid[p], &origins.valid[second]);
            if p == second {
                ck.error(f.span(), format!("{what}'s {name} origin is its own origin {:?}", a.name), "name another origin");
                ok = false;
            } else if !same_kind(a, b) {
                ck.error(
                    f.span(),
                    format!("{what}'s {name} origin {:?} is not of the same type as its origin {:?}", b.name, a.name),
                    "pair an s3 origin with an s3 origin and an http origin with an http origin",
                );
                ok = false;
            }
        }
    }
    ok.then_some((failover, canary))
}

fn same_kind(a: &Origin, b: &Origin) -> bool {
    matches!((&a.kind, &b.kind), (OriginKind::S3 { .. }, OriginKind::S3 { .. }) | (OriginKind::Http { .. }, OriginKind::Http { .. }))
}

fn parse_failover(ck: &mut Checker<'_>, node: Node<'_, '_>, what: &str, origins: &Origins) -> Option<Failover> {
    let what = format!("failover of {what}");
    let table = ck.table(node, &what)?;
    let mut f = Fields::new(ck, table, &what, &["origin", "statuses"]);
    let origin = f.require(ck, "origin", "origin = \"NAME\" of the secondary origin").and_then(|n| origins.reference(ck, n, &what));
    let statuses = match f.take("statuses") {
        None => Some(DEFAULT_FAILOVER_STATUSES.iter().filter_map(|s| StatusCode::from_u16(*s).ok()).collect()),
        Some(n) => {
            let items = ck.array(n, "statuses")?;
            let mut out: Vec<StatusCode> = Vec::new();
            let mut ok = true;
            for item in items {
                let n = super::walk::AsNode::node(item);
                match ck.int_in(n, 100, 599) {
                    Some(s) if FAILOVER_STATUSES.contains(&(s as u16)) => out.extend(StatusCode::from_u16(s as u16).ok()),
                    Some(s) => {
                        let list = FAILOVER_STATUSES.map(|s| s.to_string()).join(", ");
                        ck.error(n.span, format!("the edge does not fail over on status {s}"), format!("use any of {list}"));
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            if ok && out.is_empty() {
                ck.error(n.span, "statuses is empty", "leave it out for 500, 502, 503, 504, or list the statuses");
                ok = false;
            }
            ok.then_some(out)
        }
    };
    Some(Failover { origin: origin?, statuses: statuses? })
}

fn parse_canary(ck: &mut Checker<'_>, node: Node<'_, '_>, what: &str, origins: &Origins) -> Option<Canary> {
    let what = format!("canary of {what}");
    let table = ck.table(node, &what)?;
    let mut f = Fields::new(ck, table, &what, &["origin", "weight", "header", "cookie"]);
    let origin = f.require(ck, "origin", "origin = \"NAME\" of the canary origin").and_then(|n| origins.reference(ck, n, &what));
    let weight = match f.take("weight") {
        None => Some(0),
        Some(n) => ck.int_in(n, 0, 100).map(|w| w as u8),
    };
    let header = match f.take("header") {
        None => Some(None),
        Some(n) => ck.string(n).and_then(|s| match HeaderName::from_bytes(s.as_bytes()) {
            Ok(h) => Some(Some(h)),
            Err(_) => {
                ck.error(n.span, format!("{s:?} is not a header name"), "use a name like \"x-canary\"");
                None
            }
        }),
    };
    let cookie = match f.take("cookie") {
        None => Some(None),
        Some(n) => ck.string(n).and_then(|s| {
            if super::walk::is_identifier(&s) {
                Some(Some(s))
            } else {
                ck.error(n.span, format!("{s:?} is not a cookie name the edge reads"), "use letters, digits, '-' and '_' only");
                None
            }
        }),
    };
    Some(Canary { origin: origin?, weight: weight?, header: header?, cookie: cookie? })
}

#[cfg(test)]
mod tests {
    use crate::config::EdgeConfig;

    fn config(extra: &str) -> String {
        crate::config::tests::three_origins("", "api", extra)
    }

    #[test]
    fn failover_and_canary_parse_with_defaults() {
        let cfg = EdgeConfig::parse(
            "edge.toml",
            &config("failover = { origin = \"api-b\" }\ncanary = { origin = \"api-b\", weight = 5, header = \"x-canary\" }"),
        )
        .unwrap();
        let b = &cfg.behaviours[0];
        let f = b.failover.as_ref().unwrap();
        assert_eq!(cfg.origins[f.origin].name, "api-b");
        assert_eq!(f.statuses.iter().map(|s| s.as_u16()).collect::<Vec<_>>(), [500, 502, 503, 504]);
        let c = b.canary.as_ref().unwrap();
        assert_eq!((c.weight, c.header.as_ref().map(|h| h.as_str()), c.cookie.as_deref()), (5, Some("x-canary"), None));
    }

    #[test]
    fn bad_second_origins_are_positioned_errors() {
        let src =
            config("failover = { origin = \"web\", statuses = [200] }\ncanary = { origin = \"nope\", weight = 101, cookie = \"a b\" }");
        let err = EdgeConfig::parse("edge.toml", &src).unwrap_err().to_string();
        assert!(err.contains("does not fail over on status 200"), "{err}");
        assert!(err.contains("uses origin \"nope\", which is not defined"), "{err}");
        assert!(err.contains("101 is out of range"), "{err}");
        assert!(err.contains("is not a cookie name"), "{err}");
        let same = config("failover = { origin = \"api\" }");
        assert!(EdgeConfig::parse("edge.toml", &same).unwrap_err().to_string().contains("its own origin"));
        let kind = config("failover = { origin = \"web\" }");
        let err = EdgeConfig::parse("edge.toml", &kind).unwrap_err().to_string();
        assert!(err.contains("not of the same type"), "{err}");
        assert!(err.contains("edge.toml:"), "positioned: {err}");
    }
}
