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

    /// # Errors
    /// 403 unless the caller is the API-key consumer `partner`.
    pub fn require_consumer(&self, partner: &str) -> Result<(), ApiError> {
        match &self.consumer {
            Some(c) if c == partner => Ok(()),
            _ => Err(ApiError::Denied(format!("only partner {partner}'s API key may use this route"))),
        }
    }
}
