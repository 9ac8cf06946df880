//! Custom error responses (CloudFront's `CustomErrorResponses`): per status, a page from a
//! bucket for browsers, the status to answer with, and how long the error is cached.
//!
//! ```toml
//! [[error_responses]]
//! status = 503
//! origin = "web"              # an s3 origin
//! page = "/errors/503.html"
//! response_status = 503       # default: status
//! error_caching_min_ttl = 10  # seconds; CloudFront's default
//! ```

use std::time::Duration;

use http::StatusCode;

use super::walk::{AsNode, Checker, Fields, Node};
use super::{OriginKind, Origins};
use crate::path::NormalPath;

/// CloudFront's default error caching minimum TTL.
pub const DEFAULT_ERROR_CACHING_MIN_TTL: Duration = Duration::from_secs(10);

/// Statuses a custom response may be set for (CloudFront's list).
const ERROR_STATUSES: [u16; 17] = [400, 401, 403, 404, 405, 413, 414, 416, 429, 431, 451, 500, 501, 502, 503, 504, 507];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: StatusCode,
    /// Index into [`super::EdgeConfig::origins`]; always an s3 origin.
    pub origin: usize,
    /// The page's path in the bucket, normalised.
    pub page: NormalPath,
    pub response_status: StatusCode,
    /// How long the error is kept on behaviours with a cache policy.
    pub min_ttl: Duration,
}

pub(super) fn parse(ck: &mut Checker<'_>, node: Node<'_, '_>, origins: &Origins) -> Option<Vec<ErrorResponse>> {
    let items = ck.array_of_tables(node, "error_responses")?;
    let mut out: Vec<ErrorResponse> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let what = format!("error response {}", i + 1);
        match parse_one(ck, item.node(), &what, origins) {
            Some(e) if out.iter().any(|o| o.status == e.status) => {
                ck.error(item.node().span, format!("{what}: status {} has a response already", e.status.as_u16()), "list each status once");
                ok = false;
            }
            Some(e) => out.push(e),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn status(ck: &mut Checker<'_>, n: Node<'_, '_>, allowed: impl Fn(u16) -> bool, hint: &str) -> Option<StatusCode> {
    let s = ck.int_in(n, 100, 599)? as u16;
    if !allowed(s) {
        ck.error(n.span, format!("status {s} cannot be used here"), hint);
        return None;
    }
    StatusCode::from_u16(s).ok()
}

fn parse_one(ck: &mut Checker<'_>, node: Node<'_, '_>, what: &str, origins: &Origins) -> Option<ErrorResponse> {
    let table = ck.table(node, what)?;
    let mut f = Fields::new(ck, table, what, &["status", "origin", "page", "response_status", "error_caching_min_ttl"]);
    let list = ERROR_STATUSES.map(|s| s.to_string()).join(", ");
    let code =
        f.require(ck, "status", "status = 503").and_then(|n| status(ck, n, |s| ERROR_STATUSES.contains(&s), &format!("use one of {list}")));
    let origin = f.require(ck, "origin", "origin = \"NAME\" of an s3 origin").and_then(|n| {
        let i = origins.reference(ck, n, what)?;
        if !matches!(origins.valid[i].kind, OriginKind::S3 { .. }) {
            ck.error(
                n.span,
                format!("{what}: origin {:?} is not an s3 origin", origins.valid[i].name),
                "error pages are objects in a bucket",
            );
            return None;
        }
        Some(i)
    });
    let page = f.require(ck, "page", "page = \"/errors/503.html\"").and_then(|n| {
        let s = ck.string(n)?;
        match NormalPath::parse(&s) {
            Ok(p) if p.as_str() == s && p.as_str().len() > 1 => Some(p),
            _ => {
                ck.error(n.span, format!("{s:?} is not a normalised object path"), "write an absolute path like \"/errors/503.html\"");
                None
            }
        }
    });
    let response_status = match f.take("response_status") {
        Some(n) => status(ck, n, |s| (200..600).contains(&s) && !(300..400).contains(&s), "use a 2xx, 4xx or 5xx status"),
        None => code,
    };
    let min_ttl = match f.take("error_caching_min_ttl") {
        Some(n) => ck.int_in(n, 0, 31_536_000).map(|s| Duration::from_secs(s as u64)),
        None => Some(DEFAULT_ERROR_CACHING_MIN_TTL),
    };
    Some(ErrorResponse { status: code?, origin: origin?, page: page?, response_status: response_status?, min_ttl: min_ttl? })
}

#[cfg(test)]
mod tests {
    use crate::config::EdgeConfig;

    fn config(extra: &str) -> String {
        crate::config::tests::three_origins(extra, "web", "")
    }

    #[test]
    fn error_responses_parse_with_cloudfront_defaults() {
        let cfg = EdgeConfig::parse("e.toml", &config("[[error_responses]]\nstatus = 503\norigin = \"web\"\npage = \"/errors/503.html\""))
            .unwrap();
        let e = &cfg.error_responses[0];
        assert_eq!((e.status.as_u16(), e.response_status.as_u16(), e.min_ttl.as_secs()), (503, 503, 10));
        assert_eq!(e.page.as_str(), "/errors/503.html");
    }

    #[test]
    fn bad_error_responses_are_positioned_errors() {
        let src = config(
            "[[error_responses]]\nstatus = 200\norigin = \"api\"\npage = \"errors/x.html\"\nresponse_status = 302\n\
             [[error_responses]]\nstatus = 404\norigin = \"web\"\npage = \"/404.html\"\n\
             [[error_responses]]\nstatus = 404\norigin = \"web\"\npage = \"/404.html\"",
        );
        let err = EdgeConfig::parse("e.toml", &src).unwrap_err().to_string();
        for needle in
            ["status 200 cannot", "not an s3 origin", "not a normalised object path", "status 302 cannot", "has a response already"]
        {
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
