//! A small DynamoDB client over the JSON protocol (`POST /` with `X-Amz-Target`), signed with
//! SigV4 for service `dynamodb`. The same code talks to DynamoDB or a local server; only the
//! endpoint differs.
//!
//! Throttling, 5xx and transport failures are retried with exponential backoff and full jitter
//! (AWS's recommended scheme), at most [`MAX_ATTEMPTS`] times and never longer than
//! [`MAX_BACKOFF`] per wait, so a request's worst case stays bounded.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::Value;
use verge_signing::{sign, Credentials, Profile, Scope};

use crate::Platform;

pub const MAX_ATTEMPTS: u32 = 4;
pub const BASE_BACKOFF: Duration = Duration::from_millis(25);
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Default connect, first-byte and between-bytes timeout of each DynamoDB request
/// (`VERGE_DDB_TIMEOUT_MS`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DynamoError {
    #[error("throttled after {MAX_ATTEMPTS} attempts")]
    Throttled,
    #[error("transport: {0}")]
    Transport(String),
    #[error("server error {status}: {kind}")]
    Server { status: u16, kind: String },
    #[error("{kind}: {message}")]
    Client { kind: String, message: String },
    #[error("the condition was not met")]
    ConditionFailed,
    /// A transaction was cancelled; one reason per item, in request order (`{"Code": ...}`, with
    /// `"Item"` when `ReturnValuesOnConditionCheckFailure` asked for it).
    #[error("the transaction was cancelled")]
    TransactionCanceled(Vec<Value>),
    #[error("unexpected response: {0}")]
    Decode(String),
}

#[derive(Debug, Clone)]
pub struct Dynamo {
    endpoint: String,
    scope: Scope,
    credentials: Credentials,
    timeout: Duration,
}

impl Dynamo {
    pub fn new(endpoint: String, region: String, credentials: Credentials, timeout: Duration) -> Self {
        Dynamo { endpoint, scope: Scope { region, service: "dynamodb".into() }, credentials, timeout }
    }

    /// Calls operation `op` (e.g. `"PutItem"`) with a JSON request body.
    ///
    /// # Errors
    /// [`DynamoError`], classified by where the failure came from.
    pub async fn call<P: Platform>(&self, p: &P, op: &str, body: &Value) -> Result<Value, DynamoError> {
        let payload = Bytes::from(body.to_string());
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(p, op, payload.clone()).await {
                Err(e) if attempt < MAX_ATTEMPTS && retryable(&e) => p.sleep(backoff(attempt, p.random_u32())).await,
                Err(DynamoError::Client { kind, .. }) if is_throttle(&kind) => return Err(DynamoError::Throttled),
                other => return other,
            }
        }
    }

    async fn once<P: Platform>(&self, p: &P, op: &str, payload: Bytes) -> Result<Value, DynamoError> {
        let mut req = Request::post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{op}"))
            .extension(crate::Timeout(self.timeout))
            .body(payload)
            .map_err(|e| DynamoError::Transport(e.to_string()))?;
        sign(&mut req, &self.credentials, &self.scope, Profile::DynamoDb, p.now()).map_err(|e| DynamoError::Transport(e.to_string()))?;
        let resp = p.send(req).await.map_err(|e| DynamoError::Transport(e.to_string()))?;
        let status = resp.status();
        let body = resp.body();
        if status == StatusCode::OK {
            return serde_json::from_slice(body).map_err(|e| DynamoError::Decode(e.to_string()));
        }
        let (kind, message) = error_kind(body);
        if kind == "TransactionCanceledException" {
            let reasons =
                serde_json::from_slice::<Value>(body).ok().and_then(|v| v["CancellationReasons"].as_array().cloned()).unwrap_or_default();
            // A conflict with a concurrent transaction is transient: retry like throttling.
            if reasons.iter().any(|r| r["Code"] == "TransactionConflict") {
                return Err(DynamoError::Client { kind: "TransactionConflict".into(), message });
            }
            return Err(DynamoError::TransactionCanceled(reasons));
        }
        if status.is_server_error() {
            return Err(DynamoError::Server { status: status.as_u16(), kind });
        }
        if kind == "ConditionalCheckFailedException" {
            return Err(DynamoError::ConditionFailed);
        }
        Err(DynamoError::Client { kind, message })
    }
}

impl Dynamo {
    /// Writes `items` to `table` with BatchWriteItem, 25 at a time, resubmitting
    /// `UnprocessedItems` with backoff until all are written.
    ///
    /// # Errors
    /// [`DynamoError::Throttled`] if items are still unprocessed after [`MAX_ATTEMPTS`] rounds;
    /// the caller must not acknowledge them.
    pub async fn batch_put<P: Platform>(&self, p: &P, table: &str, items: Vec<Value>) -> Result<(), DynamoError> {
        for chunk in items.chunks(25) {
            let mut pending: Vec<Value> = chunk.iter().map(|i| serde_json::json!({ "PutRequest": { "Item": i } })).collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                attempt += 1;
                if attempt > MAX_ATTEMPTS {
                    return Err(DynamoError::Throttled);
                }
                if attempt > 1 {
                    p.sleep(backoff(attempt - 1, p.random_u32())).await;
                }
                let mut req = serde_json::Map::new();
                req.insert(table.to_owned(), Value::Array(std::mem::take(&mut pending)));
                let out = self.call(p, "BatchWriteItem", &serde_json::json!({ "RequestItems": req })).await?;
                pending = out["UnprocessedItems"][table].as_array().cloned().unwrap_or_default();
            }
        }
        Ok(())
    }
}

fn is_throttle(kind: &str) -> bool {
    matches!(kind, "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded" | "TransactionConflict")
}

fn retryable(e: &DynamoError) -> bool {
    match e {
        DynamoError::Transport(_) | DynamoError::Server { .. } => true,
        DynamoError::Client { kind, .. } => is_throttle(kind),
        _ => false,
    }
}

/// Full jitter: a uniform wait in `[0, min(MAX_BACKOFF, BASE_BACKOFF * 2^attempt))`.
pub fn backoff(attempt: u32, random: u32) -> Duration {
    let cap = BASE_BACKOFF.saturating_mul(1 << attempt.min(10)).min(MAX_BACKOFF);
    let ms = cap.as_millis() as u64;
    Duration::from_millis(if ms == 0 { 0 } else { u64::from(random) % ms })
}

/// The error code of a DynamoDB error body: JSON `__type` (after the `#`), or `<Code>` in
/// the XML some local servers send for authentication errors.
fn error_kind(body: &[u8]) -> (String, String) {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let Some(kind) = v["__type"].as_str() else {
            return ("Unknown".to_owned(), String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        };
        let kind = kind.rsplit('#').next().unwrap_or(kind).to_owned();
        let message = v["message"].as_str().or(v["Message"].as_str()).unwrap_or("").to_owned();
        return (kind, message);
    }
    let text = String::from_utf8_lossy(body);
    let code = text.split("<Code>").nth(1).and_then(|s| s.split("</Code>").next()).unwrap_or("Unknown");
    (code.to_owned(), String::new())
}

/// `{"S": s}`
pub fn s(v: &str) -> Value {
    serde_json::json!({ "S": v })
}

/// `{"N": n}`
pub fn n(v: impl std::fmt::Display) -> Value {
    serde_json::json!({ "N": v.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_grows() {
        assert_eq!(backoff(1, 0), Duration::ZERO);
        assert!(backoff(1, u32::MAX) < Duration::from_millis(50));
        assert!(backoff(3, u32::MAX) < Duration::from_millis(200));
        assert!(backoff(30, u32::MAX) < MAX_BACKOFF);
    }

    #[test]
    fn error_kinds_from_json_and_xml() {
        let (k, m) = error_kind(br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"nope"}"#);
        assert_eq!((k.as_str(), m.as_str()), ("ConditionalCheckFailedException", "nope"));
        let (k, _) = error_kind(b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>");
        assert_eq!(k, "SignatureDoesNotMatch");
    }
}
