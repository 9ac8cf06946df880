//! Who is calling, as the edge says in headers it sets itself and signs. The origin trusts these
//! only on requests whose signature it verified (every route but `/health`), and the verifier
//! refuses any `x-verge-*` header that is not signed.

use http::HeaderMap;

use crate::problem::ApiError;

pub const USER: &str = "x-verge-user";
pub const SCOPES: &str = "x-verge-scopes";
pub const CONSUMER: &str = "x-verge-consumer";
pub const PLAN: &str = "x-verge-plan";
/// Set by the edge on key lookups: the SHA-256 of the API key a client presented.
pub const KEY_HASH: &str = "x-verge-api-key-hash";
/// The user the origin files requests under when the edge names none (open routes).
pub const ANONYMOUS: &str = "anonymous";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// A signed-in user (JWT or session subject).
    pub user: Option<String>,
    /// Space-separated scopes of the user's token.
    pub scopes: Vec<String>,
    /// An API-key client (partner or machine).
    pub consumer: Option<String>,
    pub plan: Option<String>,
}

fn id(headers: &HeaderMap, name: &'static str) -> Result<Option<String>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) if (1..=128).contains(&s.len()) && !s.contains('#') && s.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(s.to_owned())),
            _ => Err(ApiError::invalid(name, "identity values are 1-128 visible ASCII characters without '#'")),
        },
    }
}

impl Caller {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let scopes = match headers.get(SCOPES) {
            None => Vec::new(),
            Some(v) => {
                v.to_str().map_err(|_| ApiError::invalid(SCOPES, "not ASCII"))?.split_ascii_whitespace().map(str::to_owned).collect()
            }
        };
        Ok(Caller { user: id(headers, USER)?, scopes, consumer: id(headers, CONSUMER)?, plan: id(headers, PLAN)? })
    }

    /// The user, or `anonymous` for routes open to everyone behind the edge.
    pub fn user_or_anonymous(&self) -> &str {
        self.user.as_deref().unwrap_or(ANONYMOUS)
    }

    /// # Errors
    /// 403 when no user signed in.
    pub fn require_user(&self) -> Result<&str, ApiError> {
        self.user.as_deref().ok_or_else(|| ApiError::Denied("this route needs a signed-in user".into()))
    }

    /// # Errors
    /// 403 when the scope is missing.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::Denied(format!("this route needs the `{scope}` scope")))
        }
    }

    /// The caller may act for `partner`: it is that partner's API key (the consumer), or a
    /// signed-in user whose scopes (a session's roles, a token's scopes) include `partner:ID`.
    ///
    /// # Errors
    /// 403 otherwise.
    pub fn require_partner(&self, partner: &str) -> Result<(), ApiError> {
        let by_key = self.consumer.as_deref() == Some(partner);
        let by_scope = self.scopes.iter().any(|s| s.strip_prefix("partner:") == Some(partner));
        if by_key || by_scope {
            Ok(())
        } else {
            Err(ApiError::Denied(format!("only partner {partner}'s API key or a user with the scope partner:{partner} may use this route")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(consumer: Option<&str>, scopes: &[&str]) -> Caller {
        Caller { consumer: consumer.map(str::to_owned), scopes: scopes.iter().map(|s| (*s).to_owned()).collect(), ..Caller::default() }
    }

    #[test]
    fn a_partner_is_its_api_key_or_a_user_with_its_partner_scope() {
        assert!(caller(Some("acme"), &[]).require_partner("acme").is_ok());
        assert!(caller(None, &["admin", "partner:acme"]).require_partner("acme").is_ok());
        for (who, why) in [
            (caller(Some("globex"), &[]), "another partner's key"),
            (caller(None, &["partner:globex"]), "another partner's scope"),
            (caller(None, &["acme", "partner:acm", "partner:acme-x", "xpartner:acme", "admin"]), "near misses"),
            (caller(Some("globex"), &["partner:"]), "an empty partner"),
            (caller(None, &[]), "nobody"),
        ] {
            assert!(matches!(who.require_partner("acme"), Err(ApiError::Denied(_))), "{why}");
        }
    }
}
