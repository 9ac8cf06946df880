//! # verge-origin: the origin API core
//!
//! Routes, validation, SigV4 verification of the edge's requests and DynamoDB access, over
//! `http` types. Time, randomness, sleeping and outbound HTTP come through [`Platform`]; the Spin
//! component is a thin adapter over it.
//!
//! Request order ([`Origin::handle`]): body size (413) -> `/health` (the one unsigned route) ->
//! SigV4 verification (403) -> routing (404/405) -> the handler. Verifying before routing means an
//! unsigned caller learns nothing about which routes exist.

pub mod bank;
pub mod config;
pub mod cursor;
pub mod date;
pub mod dynamo;
pub mod identity;
pub mod keys;
pub mod numbers;
pub mod orders;
pub mod problem;
pub mod query;
pub mod routes;
pub mod vault;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use verge_signing::{verify, Credentials};

pub use config::{ConfigError, OriginConfig};
pub use dynamo::{Dynamo, DynamoError};
pub use problem::ApiError;

/// Largest request body the origin reads; larger ones answer 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What the origin needs from its runtime.
#[allow(async_fn_in_trait)]
pub trait Platform {
    fn now(&self) -> SystemTime;
    fn random(&self) -> [u8; 16];
    fn random_u32(&self) -> u32 {
        let b = self.random();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    async fn sleep(&self, d: Duration);
    /// Sends a request (absolute URI) and returns the whole response.
    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, String>;
}

/// How long to wait for an outbound response; set on every request [`Platform::send`] gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

/// A configured origin.
#[derive(Debug)]
pub struct Origin {
    pub config: OriginConfig,
    dynamo: Dynamo,
    cursor_key: cursor::CursorKey,
    breaker: bank::Breaker,
}

/// One log line's worth of facts about a request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccessLog {
    pub request_id: String,
    /// The W3C trace id from the edge's `traceparent` (32 hex digits), on every line written for
    /// the request, so the edge's and the origin's lines join; empty without one.
    pub trace_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Origin {
    pub fn new(config: OriginConfig) -> Self {
        let dynamo = Dynamo::new(
            config.dynamo_endpoint.clone(),
            config.dynamo_region.clone(),
            config.dynamo_credentials.clone(),
            config.dynamo_timeout,
        );
        let cursor_key = config.cursor_key.clone();
        let breaker = bank::Breaker::new(config.breaker_failures, config.breaker_cooldown);
        Origin { config, dynamo, cursor_key, breaker }
    }

    pub async fn handle<P: Platform>(&self, req: Request<Bytes>, p: &P) -> (Response<Bytes>, AccessLog) {
        let (request_id, mut log) = begin(&req);
        let resp = match self.dispatch(req, p).await {
            Ok(r) => r,
            Err(e) => {
                log.error = Some(e.to_string());
                e.into_response(&request_id)
            }
        };
        log.status = resp.status().as_u16();
        (resp, log)
    }

    /// The answer to a request refused before its body could be read whole (larger than
    /// [`MAX_BODY_BYTES`], or the body failed mid-way): the problem body and log line
    /// [`handle`](Self::handle) would give. Adapters call it so that a large body is never held.
    pub fn refuse<B>(req: &Request<B>, err: ApiError) -> (Response<Bytes>, AccessLog) {
        let (request_id, mut log) = begin(req);
        log.error = Some(err.to_string());
        let resp = err.into_response(&request_id);
        log.status = resp.status().as_u16();
        (resp, log)
    }

    async fn dispatch<P: Platform>(&self, req: Request<Bytes>, p: &P) -> Result<Response<Bytes>, ApiError> {
        use routes::Route;
        if req.body().len() > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge { limit: MAX_BODY_BYTES });
        }
        let path = req.uri().path().to_owned();
        // The signature is verified over this exact path and the router takes it as is, so a
        // path that normalisation would change is refused outright (the edge never sends one).
        if routes::has_dot_segment(&path) {
            return Err(ApiError::invalid("path", "the path must not contain `.` or `..` segments"));
        }
        let route = routes::route(&path);
        if route == Some(Route::Health) {
            return match *req.method() {
                Method::GET | Method::HEAD => Ok(self.health(p).await),
                _ => Err(ApiError::MethodNotAllowed { method: req.method().to_string(), allow: "GET, HEAD" }),
            };
        }
        self.verify(&req, p.now())?;
        let route = route.ok_or(ApiError::NotFound)?;
        let method = req.method().clone();
        if !route.allows(&method) {
            return Err(ApiError::MethodNotAllowed { method: method.to_string(), allow: route.allow() });
        }
        let caller = identity::Caller::from_headers(req.headers())?;
        let query = req.uri().query();
        match (route, method) {
            (Route::Numbers, _) => {
                let idem = numbers::idempotency_key(req.headers())?;
                numbers::post_number(self, p, caller.user_or_anonymous(), idem.as_deref(), req.body()).await
            }
            (Route::DailyStats, _) => numbers::daily_stats(self, p, caller.user_or_anonymous(), query).await,
            (Route::PartnerOrders(partner), m) => {
                caller.require_partner(partner)?;
                if m == Method::POST {
                    orders::post_orders(self, p, partner, req.body()).await
                } else {
                    orders::list_orders(self, p, partner, query).await
                }
            }
            (Route::PartnerErrors(partner), _) => {
                caller.require_partner(partner)?;
                orders::list_errors(self, p, partner, query).await
            }
            (Route::AdminKeys, m) => {
                caller.require_scope("admin")?;
                if m == Method::POST {
                    keys::create(self, p, req.body()).await
                } else {
                    keys::list(self, p).await
                }
            }
            (Route::AdminKey(id), _) => {
                caller.require_scope("admin")?;
                keys::revoke(self, p, id).await
            }
            (Route::KeyLookup, _) => {
                let h = req.headers().get(identity::KEY_HASH).and_then(|v| v.to_str().ok()).unwrap_or("");
                keys::lookup(self, p, h).await
            }
            (Route::Connection(provider), m) => {
                let user = caller.require_user()?;
                if provider != "bank" {
                    return Err(ApiError::NotFoundItem(format!("no provider {provider}; the providers are: bank")));
                }
                if m == Method::PUT {
                    vault::put(self, p, user, provider, req.body()).await
                } else {
                    vault::delete(self, p, user, provider).await
                }
            }
            (Route::Accounts, _) => bank::accounts(self, p, caller.require_user()?).await,
            (Route::Transactions, _) => bank::transactions(self, p, caller.require_user()?, query).await,
            (Route::Health, _) => Err(ApiError::NotFound),
        }
    }

    fn verify(&self, req: &Request<Bytes>, now: SystemTime) -> Result<(), ApiError> {
        let host = self
            .config
            .api_host
            .clone()
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
            .or_else(|| req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))
            .ok_or_else(|| ApiError::Forbidden("no host".into()))?;
        let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let edge = &self.config.edge_credentials;
        let lookup = |id: &str| -> Option<Credentials> { (id == edge.access_key_id).then(|| edge.clone()) };
        verify(req.method(), &host, pq, req.headers(), req.body(), &lookup, &self.config.api_scope, now)
            .map(|_| ())
            .map_err(|e| ApiError::Forbidden(e.to_string()))
    }

    /// `GET /health`: 200 when storage answers a DescribeTable, 503 when it does not.
    async fn health<P: Platform>(&self, p: &P) -> Response<Bytes> {
        let probe = serde_json::json!({ "TableName": self.config.tables.daily });
        let (status, storage) = match self.dynamo.call(p, "DescribeTable", &probe).await {
            Ok(_) => (StatusCode::OK, "ok"),
            Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "unreachable"),
        };
        numbers::json_response(
            status,
            &serde_json::json!({ "status": if status == StatusCode::OK { "ok" } else { "degraded" }, "storage": storage }),
        )
    }
}

#[cfg(test)]
mod tests;

/// The trace id of a well-formed `traceparent` (`VV-TRACEID-PARENT-FF`, 32 lower-case hex digits,
/// not all zeros), or empty: only a checked value reaches a log line.
pub fn trace_id(headers: &http::HeaderMap) -> String {
    let value = headers.get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or("");
    match value.split('-').nth(1) {
        Some(id)
            if id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) && id.bytes().any(|b| b != b'0') =>
        {
            id.to_owned()
        }
        _ => String::new(),
    }
}

/// The request id to echo (the edge's, when well-formed) and the log line's start.
fn begin<B>(req: &Request<B>) -> (String, AccessLog) {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)))
        .unwrap_or("")
        .to_owned();
    let log = AccessLog {
        request_id: request_id.clone(),
        trace_id: trace_id(req.headers()),
        method: req.method().to_string(),
        path: req.uri().path().chars().take(256).collect(),
        status: 0,
        error: None,
    };
    (request_id, log)
}
