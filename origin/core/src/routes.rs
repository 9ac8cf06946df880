//! The route table: path -> route and the methods it takes. One place lists every endpoint.

use http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    Health,
    Numbers,
    DailyStats,
    PartnerOrders(&'a str),
    PartnerErrors(&'a str),
    Connection(&'a str),
    Accounts,
    Transactions,
    AdminKeys,
    AdminKey(&'a str),
    KeyLookup,
}

impl Route<'_> {
    /// The methods this route takes, as an `Allow` header value.
    pub fn allow(&self) -> &'static str {
        match self {
            Route::Health | Route::DailyStats | Route::Accounts | Route::Transactions | Route::KeyLookup | Route::PartnerErrors(_) => {
                "GET, HEAD"
            }
            Route::Numbers => "POST",
            Route::PartnerOrders(_) | Route::AdminKeys => "GET, HEAD, POST",
            Route::Connection(_) => "PUT, DELETE",
            Route::AdminKey(_) => "DELETE",
        }
    }

    pub fn allows(&self, m: &Method) -> bool {
        self.allow().split(", ").any(|a| a == m.as_str())
    }
}

/// A path segment id: 1-64 of `[A-Za-z0-9._-]`, never a dot segment (`.` or `..`).
fn seg(s: &str) -> Option<&str> {
    ((1..=64).contains(&s.len()) && !is_dot_segment(s) && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
        .then_some(s)
}

/// `.` or `..`, also percent-encoded (`%2e`, `%2E%2e`, ...): what RFC 3986 normalisation would
/// remove, and what some server or proxy on the way may.
pub fn is_dot_segment(s: &str) -> bool {
    let d = s.to_ascii_lowercase().replace("%2e", ".");
    d == "." || d == ".."
}

/// Whether a raw path has a dot segment anywhere.
pub fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(is_dot_segment)
}

pub fn route(path: &str) -> Option<Route<'_>> {
    let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    Some(match parts.as_slice() {
        // The same check under /api, so it is reachable through the edge's `/api/*` behaviour
        // (the web app's Overview page shows it).
        ["health"] | ["api", "health"] => Route::Health,
        ["api", "numbers"] => Route::Numbers,
        ["api", "stats", "daily"] => Route::DailyStats,
        ["api", "partners", p, "orders"] => Route::PartnerOrders(seg(p)?),
        ["api", "partners", p, "errors"] => Route::PartnerErrors(seg(p)?),
        ["api", "me", "connections", provider] => Route::Connection(seg(provider)?),
        ["api", "me", "accounts"] => Route::Accounts,
        ["api", "me", "transactions"] => Route::Transactions,
        ["api", "admin", "keys"] => Route::AdminKeys,
        ["api", "admin", "keys", id] => Route::AdminKey(seg(id)?),
        ["api", "keys", "lookup"] => Route::KeyLookup,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(route("/api/partners/acme-1/orders"), Some(Route::PartnerOrders("acme-1")));
        assert_eq!(route("/api/partners/a%2fb/orders"), None);
        assert_eq!(route("/api/partners//orders"), None);
        assert_eq!(route("/api/numbers/"), None);
        assert_eq!(route("/api/health"), Some(Route::Health));
        assert!(Route::Numbers.allows(&Method::POST));
        assert!(!Route::Numbers.allows(&Method::GET));
    }
}
