//! `[health]`: a path the edge answers itself, without calling any origin, with its build
//! (commit, build time) and the config's version, for load balancers and the web app's overview.
//!
//! ```toml
//! [health]
//! path = "/_verge/health"
//! ```
//!
//! The health route is answered before routing, so it would hide a behaviour that matches the
//! same path: that is a config error, reported at the path.

use super::walk::{Checker, Fields, Node, Span};
use crate::pattern::PathPattern;

/// A validated `[health]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// The exact (normalised) path answered; other methods than GET and HEAD answer 405.
    pub path: String,
}

pub(super) fn parse(ck: &mut Checker<'_>, node: Node<'_, '_>) -> Option<(HealthConfig, Span)> {
    let table = ck.table(node, "[health]")?;
    let mut f = Fields::new(ck, table, "[health]", &["path"]);
    let n = f.require(ck, "path", "path = \"/_verge/health\"")?;
    let path = ck.string(n)?;
    let normal = crate::path::NormalPath::parse(&path).ok().filter(|p| p.as_str() == path);
    let reserved = path.starts_with("/auth/") || path == crate::cache::purge::ENDPOINT;
    if normal.is_none() || path.contains(['*', '?']) || path == "/" || reserved {
        ck.error(
            n.span,
            format!("{path:?} cannot be the health path"),
            "use an exact, normalised path of its own, such as \"/_verge/health\" (not /, /auth/..., a pattern or the purge path)",
        );
        return None;
    }
    Some((HealthConfig { path }, n.span))
}

/// Reports a behaviour (other than the catch-all) that matches the health path: the edge answers
/// that path itself, so the behaviour would silently never see it.
pub(super) fn check_shadowing(ck: &mut Checker<'_>, health: &HealthConfig, span: Span, patterns: &[PathPattern]) {
    if let Some((i, p)) = patterns.iter().enumerate().find(|(_, p)| !p.is_catch_all() && p.matches(&health.path)) {
        ck.error(
            span,
            format!("the health path {:?} hides behaviour {} (path {:?}), which matches it", health.path, i + 1, p.as_str()),
            "choose a health path no behaviour matches, such as \"/_verge/health\"",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{errors, with, with_src};

    #[test]
    fn the_health_path_is_exact_and_shadows_no_behaviour() {
        let cfg = with("\n[health]\npath = \"/_verge/health\"\n", "");
        assert_eq!(cfg.health.unwrap().path, "/_verge/health");
        let errs = errors(&with_src("\n[health]\npath = \"/api/health\"\n", ""));
        assert!(
            errs.iter().any(|e| e.starts_with("3:8: the health path \"/api/health\" hides behaviour 1 (path \"/api/*\")")),
            "{errs:#?}"
        );
        for bad in ["/_verge/*", "/a/../b", "/auth/health", "health"] {
            let errs = errors(&with_src(&format!("\n[health]\npath = {bad:?}\n"), ""));
            assert!(errs.iter().any(|e| e.starts_with("3:8: ") && e.contains("cannot be the health path")), "{bad}: {errs:#?}");
        }
    }
}
