//! Every way a request can fail at the edge, and the one place that maps them to HTTP.
//!
//! Errors are classified by where they come from (pingora's `fail_to_proxy` split): the client
//! (4xx), the origin (502/504), or the edge's own configuration (500). Bodies are RFC 9457
//! problem documents; they never include secrets, upstream error bodies or tokens.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::path::PathError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    #[error("the URL is {len} bytes; the limit is {limit}")]
    UriTooLong { len: usize, limit: usize },
    #[error("{0}")]
    BadPath(#[from] PathError),
    #[error("{method} is not allowed here")]
    MethodNotAllowed { method: String, allow: String },
    #[error("the body is {len} bytes; the limit is {limit}")]
    BodyTooLarge { len: usize, limit: usize },
    /// The request's header fields are too many or too large (`what` says which limit).
    #[error("{0}")]
    HeadersTooLarge(String),
    #[error("no object at this path")]
    NotFound,
    #[error("the origin could not be reached")]
    OriginUnreachable,
    #[error("the origin did not answer in time")]
    OriginTimeout,
    #[error("the origin refused the edge's request")]
    OriginRefused,
    #[error("the edge is misconfigured")]
    Misconfigured,
    #[error("{0}")]
    Auth(crate::auth::AuthError),
    #[error("{0}")]
    Login(crate::auth::oidc::LoginError),
    /// A rate limit refused the request (`limit` names it); retry after `retry_after` seconds.
    #[error("too many requests (rate limit {limit}); retry in {retry_after} s")]
    RateLimited { limit: String, retry_after: u64 },
    /// A global rate limit with `on_store_failure = "closed"` could not be checked.
    #[error("rate limits cannot be checked right now; try again")]
    RateLimitUnavailable,
    /// The behaviour's access rule refused the client (the log says which rule and why).
    #[error("access from this client is not allowed here")]
    AccessDenied,
    /// A request the runtime accepted but the edge cannot represent (an unusual method or URL).
    #[error("the request cannot be read: {0}")]
    Malformed(String),
    /// The runtime's random number generator failed: nothing that needs a nonce, a state or a
    /// request id may go ahead with zero entropy.
    #[error("the edge cannot answer right now")]
    EntropyUnavailable,
}

impl EdgeError {
    pub fn status(&self) -> StatusCode {
        match self {
            EdgeError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            EdgeError::BadPath(_) | EdgeError::Malformed(_) => StatusCode::BAD_REQUEST,
            EdgeError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            EdgeError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            EdgeError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            EdgeError::NotFound => StatusCode::NOT_FOUND,
            EdgeError::OriginUnreachable | EdgeError::OriginRefused => StatusCode::BAD_GATEWAY,
            EdgeError::OriginTimeout => StatusCode::GATEWAY_TIMEOUT,
            EdgeError::Misconfigured | EdgeError::EntropyUnavailable => StatusCode::INTERNAL_SERVER_ERROR,
            EdgeError::Auth(a) => a.status(),
            EdgeError::Login(crate::auth::oidc::LoginError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            EdgeError::Login(crate::auth::oidc::LoginError::CrossSite) => StatusCode::FORBIDDEN,
            EdgeError::Login(crate::auth::oidc::LoginError::NoPublicUrl) => StatusCode::INTERNAL_SERVER_ERROR,
            EdgeError::Login(_) => StatusCode::BAD_REQUEST,
            EdgeError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            EdgeError::RateLimitUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            EdgeError::AccessDenied => StatusCode::FORBIDDEN,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            EdgeError::UriTooLong { .. } => "uri-too-long",
            EdgeError::BadPath(_) => "bad-path",
            EdgeError::MethodNotAllowed { .. } => "method-not-allowed",
            EdgeError::BodyTooLarge { .. } => "body-too-large",
            EdgeError::HeadersTooLarge(_) => "headers-too-large",
            EdgeError::NotFound => "not-found",
            EdgeError::OriginUnreachable => "origin-unreachable",
            EdgeError::OriginTimeout => "origin-timeout",
            EdgeError::OriginRefused => "origin-refused",
            EdgeError::Misconfigured => "edge-misconfigured",
            EdgeError::EntropyUnavailable => "entropy-unavailable",
            EdgeError::Auth(crate::auth::AuthError::InsufficientScope(_) | crate::auth::AuthError::SessionLacksScope(_)) => {
                "insufficient-scope"
            }
            EdgeError::Auth(crate::auth::AuthError::CrossSite) => "cross-site",
            EdgeError::Auth(crate::auth::AuthError::Unavailable(_)) => "auth-unavailable",
            EdgeError::Auth(crate::auth::AuthError::NoSession(_)) => "no-session",
            EdgeError::Auth(_) => "unauthorized",
            EdgeError::Login(_) => "login-failed",
            EdgeError::Malformed(_) => "malformed-request",
            EdgeError::RateLimited { .. } => "rate-limited",
            EdgeError::RateLimitUnavailable => "rate-limit-unavailable",
            EdgeError::AccessDenied => "access-denied",
        }
    }

    /// The problem response for this error.
    pub fn into_response(self, request_id: &str) -> Response<Bytes> {
        let status = self.status();
        // Why keys could not be had is for the log; the caller learns only that they could not.
        let detail = match &self {
            EdgeError::Auth(crate::auth::AuthError::Unavailable(_)) => "credentials cannot be checked right now; try again".to_owned(),
            other => other.to_string(),
        };
        let body = serde_json::json!({
            "type": format!("https://verge.dev/problems/{}", self.slug()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
            "request_id": request_id,
        });
        let mut resp = Response::new(Bytes::from(body.to_string()));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let EdgeError::MethodNotAllowed { allow, .. } = &self {
            if let Ok(v) = HeaderValue::from_str(allow) {
                h.insert(header::ALLOW, v);
            }
        }
        match &self {
            EdgeError::RateLimited { retry_after, .. } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            EdgeError::RateLimitUnavailable => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        if let EdgeError::Auth(a) = &self {
            if let Some(v) = a.challenge().and_then(|c| HeaderValue::from_str(&c).ok()) {
                h.insert(header::WWW_AUTHENTICATE, v);
            }
            if matches!(a, crate::auth::AuthError::Unavailable(_)) {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
        }
        resp
    }
}
