//! A session's scopes, from the ID-token claim `[auth.oidc] roles_claim` names (`groups`,
//! Cognito's `cognito:groups`, Keycloak's mapped `roles`).
//!
//! The claim may be a JSON array of strings (Cognito, Okta, Keycloak) or one space-separated
//! string (the form of OAuth's `scope`). What is kept is bounded, because it is sealed into the
//! session cookie (browsers keep about 4 KB per cookie) and forwarded as `x-verge-scopes`:
//! at most [`MAX_ROLES`] values of at most [`MAX_ROLE_BYTES`] bytes each, of letters, digits
//! and `. _ - : / @ +` (enough for `admin`, `partner:acme`, `team/ops`; nothing that could split
//! a header or a scope list). Values outside that are dropped, not the session: the caller
//! learns how many were dropped, for a log line that names the claim and never the token.
//!
//! ```
//! use serde_json::json;
//! use verge_edge::auth::roles::from_claims;
//! let r = from_claims(&json!({ "groups": ["admin", "partner:acme", "has space"] }), "groups");
//! assert_eq!(r.roles, ["admin", "partner:acme"]);
//! assert_eq!(r.dropped, 1);
//! ```

use serde_json::Value;

/// At most this many roles per session; the rest are dropped.
pub const MAX_ROLES: usize = 32;
/// At most this many bytes per role.
pub const MAX_ROLE_BYTES: usize = 64;

/// The roles kept and how many values were dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    pub roles: Vec<String>,
    pub dropped: usize,
}

impl Roles {
    /// The access log's note when values were dropped: the claim's name and the count, never a
    /// value (a value could be anything the issuer put there).
    pub fn note(&self, claim: &str) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "roles claim {claim:?}: {} value(s) dropped (at most {MAX_ROLES} of 1-{MAX_ROLE_BYTES} letters, digits or . _ - : / @ +)",
                self.dropped
            )
        })
    }
}

fn allowed(role: &str) -> bool {
    (1..=MAX_ROLE_BYTES).contains(&role.len())
        && role.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/' | b'@' | b'+'))
}

/// The roles in `claims[claim]`: an array of strings or a space-separated string. A claim of
/// another type (a number, an object) counts as one dropped value; an absent or null one gives
/// no roles. Duplicates are kept once.
pub fn from_claims(claims: &Value, claim: &str) -> Roles {
    let mut out = Roles::default();
    let mut take = |v: Option<&str>| match v {
        Some(r) if allowed(r) && out.roles.len() < MAX_ROLES => {
            if !out.roles.iter().any(|have| have == r) {
                out.roles.push(r.to_owned());
            }
        }
        _ => out.dropped += 1,
    };
    match claims.get(claim) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => s.split_ascii_whitespace().for_each(|r| take(Some(r))),
        Some(Value::Array(items)) => items.iter().for_each(|i| take(i.as_str())),
        Some(_) => take(None),
    }
    out
}

/// Roles sealed in a session cookie (written by this edge, so within bounds; checked again all
/// the same, since the cookie's format may change between versions).
pub fn from_session(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).filter(|r| allowed(r)).take(MAX_ROLES).map(str::to_owned).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_and_space_separated_strings() {
        let a = from_claims(&json!({ "cognito:groups": ["admin", "partner:acme"] }), "cognito:groups");
        assert_eq!(a, Roles { roles: vec!["admin".into(), "partner:acme".into()], dropped: 0 });
        let s = from_claims(&json!({ "roles": "  admin\tpartner:acme admin " }), "roles");
        assert_eq!(s.roles, ["admin", "partner:acme"], "split on whitespace, duplicates once");
        assert_eq!(s.dropped, 0);
        assert_eq!(from_claims(&json!({ "sub": "x" }), "groups"), Roles::default(), "absent: no roles");
        assert_eq!(from_claims(&json!({ "groups": null }), "groups"), Roles::default());
    }

    #[test]
    fn values_outside_the_bounds_are_dropped_and_counted() {
        let long = "a".repeat(MAX_ROLE_BYTES + 1);
        let claims = json!({ "groups": ["ok", "", "has space", "semi;colon", "quote\"", "comma,x", "ünï", long, 7, null, { "a": 1 }, "a".repeat(MAX_ROLE_BYTES)] });
        let r = from_claims(&claims, "groups");
        assert_eq!(r.roles, ["ok".to_owned(), "a".repeat(MAX_ROLE_BYTES)]);
        assert_eq!(r.dropped, 10);
        let note = r.note("groups").unwrap();
        assert!(note.starts_with("roles claim \"groups\": 10 value(s) dropped"), "{note}");
        assert!(!note.contains("semi"), "values never reach the log");
        assert_eq!(from_claims(&json!({ "groups": 42 }), "groups").dropped, 1, "a claim of another type");
        assert_eq!(Roles::default().note("groups"), None);
    }

    #[test]
    fn at_most_max_roles_are_kept() {
        let many: Vec<String> = (0..MAX_ROLES + 8).map(|i| format!("g{i}")).collect();
        let r = from_claims(&json!({ "groups": many }), "groups");
        assert_eq!(r.roles.len(), MAX_ROLES);
        assert_eq!(r.roles[0], "g0");
        assert_eq!(r.dropped, 8);
        let huge = (0..10_000).map(|i| format!("g{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(from_claims(&json!({ "groups": huge }), "groups").roles.len(), MAX_ROLES, "a long string too");
    }

    #[test]
    fn sealed_roles_are_checked_again() {
        assert_eq!(from_session(&json!(["admin", "bad value", 3])), ["admin"]);
        assert!(from_session(&json!(null)).is_empty());
    }
}
