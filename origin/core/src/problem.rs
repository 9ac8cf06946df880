//! Every way an origin request fails, mapped to HTTP in one place ([`ApiError::into_response`]).
//! Bodies are RFC 9457 problem documents; 400s name the offending field.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::dynamo::DynamoError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("{detail}")]
    Invalid { field: String, detail: String },
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request signature was refused: {0}")]
    Forbidden(String),
    #[error("no route for this path")]
    NotFound,
    #[error("{0}")]
    NotFoundItem(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    BadGateway(String),
    #[error("{what} is unavailable; try again in {retry_after} s")]
    DependencyDown { what: &'static str, retry_after: u64 },
    /// A dependency failure with its cause (logged, not sent).
    #[error("{inner}: {cause}")]
    WithCause { inner: Box<ApiError>, cause: String },
    #[error("{0}")]
    DependencyTimeout(String),
    #[error("{method} is not allowed here")]
    MethodNotAllowed { method: String, allow: &'static str },
    /// The cause is logged, never sent.
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("storage is throttling requests; try again")]
    Throttled,
    /// The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        ApiError::Invalid { field: field.to_owned(), detail: detail.into() }
    }

    /// Keeps `cause` for the log line; the caller sees only `self`.
    pub fn with_cause(self, cause: String) -> Self {
        ApiError::WithCause { inner: Box::new(self), cause }
    }

    /// What the caller is told: everything but the causes of 5xx errors, which stay in logs, and
    /// why a signature was refused: an unsigned caller learns only "forbidden", not which check
    /// failed (the log line has the reason).
    pub fn public_detail(&self) -> String {
        match self {
            ApiError::WithCause { inner, .. } => inner.public_detail(),
            ApiError::Forbidden(_) => "forbidden".to_owned(),
            ApiError::Unavailable(_) => "storage is unavailable; try again".to_owned(),
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } | ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::NotFoundItem(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::DependencyDown { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::DependencyTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::WithCause { inner, .. } => inner.status(),
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) | ApiError::Throttled => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Invalid { .. } => "invalid-field",
            ApiError::MalformedJson(_) => "malformed-json",
            ApiError::TooLarge { .. } => "body-too-large",
            ApiError::Forbidden(_) => "signature-refused",
            ApiError::NotFound | ApiError::NotFoundItem(_) => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Denied(_) => "forbidden",
            ApiError::BadGateway(_) => "bad-gateway",
            ApiError::DependencyDown { .. } => "dependency-unavailable",
            ApiError::DependencyTimeout(_) => "dependency-timeout",
            ApiError::WithCause { inner, .. } => inner.slug(),
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
            ApiError::Unavailable(_) => "storage-unavailable",
            ApiError::Throttled => "storage-throttled",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn into_response(self, request_id: &str) -> Response<Bytes> {
        let status = self.status();
        let mut body = serde_json::json!({
            "type": format!("https://verge.dev/problems/{}", self.slug()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.public_detail(),
        });
        if let ApiError::Invalid { field, .. } = &self {
            body["field"] = serde_json::Value::String(field.clone());
        }
        if !request_id.is_empty() {
            body["request_id"] = serde_json::Value::String(request_id.to_owned());
        }
        let mut resp = Response::new(Bytes::from(body.to_string()));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let ApiError::MethodNotAllowed { allow, .. } = &self {
            h.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        match &self {
            ApiError::Unavailable(_) | ApiError::Throttled => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::DependencyDown { retry_after, .. } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::WithCause { inner, .. } => {
                if let ApiError::DependencyDown { retry_after, .. } = **inner {
                    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                }
            }
            _ => {}
        }
        resp
    }
}

impl From<DynamoError> for ApiError {
    fn from(e: DynamoError) -> Self {
        match e {
            DynamoError::Throttled => ApiError::Throttled,
            DynamoError::Transport(_) | DynamoError::Server { .. } => ApiError::Unavailable(e.to_string()),
            DynamoError::ConditionFailed | DynamoError::TransactionCanceled(_) | DynamoError::Client { .. } | DynamoError::Decode(_) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}
