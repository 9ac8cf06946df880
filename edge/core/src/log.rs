//! One JSON line per request. No query strings, headers or bodies: those may carry tokens.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccessLog {
    pub request_id: String,
    /// The W3C trace id (32 hex digits) the request was forwarded with; the origin logs the same.
    pub trace_id: String,
    pub method: String,
    /// The normalised path, or the raw path (cut to 256 bytes) when it was refused.
    pub path: String,
    /// The matching behaviour's pattern, if routing got that far.
    pub behaviour: Option<String>,
    /// The origin that served (the canary's or the failover's when they did).
    pub origin: Option<String>,
    /// Why the primary was given up for the failover origin (`api: status 503`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<String>,
    /// What admitted the request (`jwt:main`, `api_key`, `session`); none on open routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// What identity noticed and let pass, for operators: roles dropped from an ID token's
    /// roles claim (the claim's name and a count, never a value or a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_note: Option<String>,
    /// Who checked a JWT signature for this request (`webcrypto`, `rust`); none for a cached token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<&'static str>,
    pub status: u16,
    /// The `Cache-Status` sent, on behaviours with a cache policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// The rate limit that refused the request (`per-ip`, `partners:daily`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<String>,
    /// A global rate-limit store that failed during this request, and whether the limit failed
    /// open or closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_store: Option<String>,
    /// `allowed` or `refused`, on behaviours with rate limits (or login routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_decision: Option<&'static str>,
    /// How long the origin took to answer (its response head), when one was called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_ms: Option<u64>,
    /// The response body's size, when known (a whole body, or the origin's `Content-Length`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    pub duration_ms: u64,
    /// Why the edge answered an error itself, for operators (never secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the line is written: every 5xx and edge failure, the rest at `[edge]
    /// access_log_sample_percent` (the finishing step decides). Not part of the line.
    #[serde(skip)]
    pub sampled: bool,
}

impl AccessLog {
    /// The line for a request as it arrives; the pipeline fills in the rest.
    pub fn begin<B>(request_id: &str, req: &http::Request<B>) -> Self {
        AccessLog {
            request_id: request_id.to_owned(),
            trace_id: String::new(),
            method: req.method().to_string(),
            path: clip(req.uri().path(), 256),
            behaviour: None,
            origin: None,
            failover: None,
            auth: None,
            auth_note: None,
            signature: None,
            status: 0,
            cache: None,
            rate_limit: None,
            rate_limit_store: None,
            rate_limit_decision: None,
            origin_ms: None,
            bytes: None,
            duration_ms: 0,
            error: None,
            sampled: true,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The JSON line to write for this request, or `None` when sampling left it out.
    pub fn line(&self) -> Option<String> {
        self.sampled.then(|| self.to_json())
    }
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
