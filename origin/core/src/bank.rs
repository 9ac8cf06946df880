//! Calling the external banking API on the user's behalf, with the token from the vault.
//!
//! Each call has a timeout; 429, 5xx, timeouts and connection failures are retried with jittered
//! exponential backoff (honouring a short `Retry-After`), at most [`ATTEMPTS`] times; a circuit
//! breaker stops calling a bank that keeps failing, so users get a fast 503 instead of a slow
//! one and the bank gets room to recover. The answers carry only what the web app shows.
//!
//! The breaker lives in the component instance: a runtime that reuses instances (Spin, `wasmtime
//! serve`) shares it across that instance's requests; one that starts an instance per request
//! gives each request a fresh breaker (retries and timeouts still bound every call).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::dynamo::backoff;
use crate::numbers::json_response;
use crate::problem::ApiError;
use crate::query::Query;
use crate::{Origin, Platform, Timeout};

pub const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` honoured between attempts; longer ones end the retries.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: SystemTime,
    },
    /// One probe request is in flight; others are refused until it settles.
    HalfOpen,
}

/// Opens after `threshold` failed calls in a row; after `cooldown`, lets one probe through.
#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker { state: Mutex::new(State::Closed { failures: 0 }), threshold: threshold.max(1), cooldown }
    }

    /// `Err(wait)` while open.
    pub fn allow(&self, now: SystemTime) -> Result<(), Duration> {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *s {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now >= until => {
                *s = State::HalfOpen;
                Ok(())
            }
            State::Open { until } => Err(until.duration_since(now).unwrap_or(Duration::ZERO)),
            State::HalfOpen => Err(Duration::from_secs(1)),
        }
    }

    pub fn record(&self, ok: bool, now: SystemTime) {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *s = match (*s, ok) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed { failures: failures + 1 },
            (_, false) => State::Open { until: now + self.cooldown },
        };
    }

    pub fn is_open(&self) -> bool {
        !matches!(*self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner), State::Closed { .. })
    }
}

/// Where the bank is and how patiently to call it.
#[derive(Debug, Clone)]
pub struct BankConfig {
    pub base_url: String,
    pub timeout: Duration,
}

enum Failure {
    Timeout,
    Unavailable(String),
}

async fn get<P: Platform>(o: &Origin, p: &P, cfg: &BankConfig, path_and_query: &str, token: &str) -> Result<Value, ApiError> {
    if let Err(wait) = o.breaker.allow(p.now()) {
        return Err(ApiError::DependencyDown { what: "the bank", retry_after: wait.as_secs().max(1) });
    }
    let mut last = Failure::Unavailable(String::new());
    for attempt in 1..=ATTEMPTS {
        let req = Request::get(format!("{}{path_and_query}", cfg.base_url))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::ACCEPT, "application/json")
            .extension(Timeout(cfg.timeout))
            .body(Bytes::new())
            .map_err(|e| ApiError::Internal(format!("bank request: {e}")))?;
        let mut wait = backoff(attempt, p.random_u32()).max(Duration::from_millis(50));
        match p.send(req).await {
            Ok(resp) if resp.status().is_success() => {
                o.breaker.record(true, p.now());
                return serde_json::from_slice(resp.body()).map_err(|_| ApiError::BadGateway("the bank sent a malformed answer".into()));
            }
            Ok(resp) if matches!(resp.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                // The bank works; the user's token does not.
                o.breaker.record(true, p.now());
                return Err(ApiError::BadGateway("the bank refused the stored token; connect the account again".into()));
            }
            Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS || resp.status().is_server_error() => {
                if let Some(secs) =
                    resp.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
                {
                    if Duration::from_secs(secs) > MAX_RETRY_AFTER {
                        last = Failure::Unavailable(format!("the bank asked to wait {secs} s"));
                        break;
                    }
                    wait = Duration::from_secs(secs);
                }
                last = Failure::Unavailable(format!("the bank answered {}", resp.status().as_u16()));
            }
            Ok(resp) => {
                o.breaker.record(true, p.now());
                return Err(ApiError::BadGateway(format!("the bank answered {}", resp.status().as_u16())));
            }
            Err(e) if e.contains("Timeout") => last = Failure::Timeout,
            Err(e) => last = Failure::Unavailable(e),
        }
        if attempt < ATTEMPTS {
            p.sleep(wait).await;
        }
    }
    o.breaker.record(false, p.now());
    Err(match last {
        Failure::Timeout => ApiError::DependencyTimeout("the bank did not answer in time".into()),
        Failure::Unavailable(why) => ApiError::DependencyDown { what: "the bank", retry_after: 1 }.with_cause(why),
    })
}

fn bank(o: &Origin) -> Result<&BankConfig, ApiError> {
    o.config.bank.as_ref().ok_or_else(|| ApiError::Unavailable("no bank API is configured".into()))
}

/// `GET /api/me/accounts`: id, name, the IBAN's last four characters, balance and currency.
pub(crate) async fn accounts<P: Platform>(o: &Origin, p: &P, user: &str) -> Result<Response<Bytes>, ApiError> {
    let cfg = bank(o)?;
    let token = crate::vault::token(o, p, user, "bank").await?;
    let v = get(o, p, cfg, "/accounts", &token).await?;
    let accounts: Vec<Value> = v["accounts"]
        .as_array()
        .ok_or_else(|| ApiError::BadGateway("the bank sent no accounts".into()))?
        .iter()
        .map(|a| {
            let iban = a["iban"].as_str().unwrap_or("");
            json!({
                "id": a["id"], "name": a["name"],
                "iban_last4": iban.get(iban.len().saturating_sub(4)..).unwrap_or(""),
                "balance": a["balance"]["amount"], "currency": a["balance"]["currency"],
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "accounts": accounts })))
}

/// `GET /api/me/transactions?cursor=`: a page of transactions; the bank's cursor travels sealed
/// (bound to the user), so it can be neither read nor replayed by someone else.
pub(crate) async fn transactions<P: Platform>(o: &Origin, p: &P, user: &str, query: Option<&str>) -> Result<Response<Bytes>, ApiError> {
    let cfg = bank(o)?;
    let q = Query::parse(query)?;
    let context = format!("bank-transactions\n{user}");
    let mut path = "/transactions".to_owned();
    if let Some(c) = q.get("cursor") {
        let bank_cursor = o.cursor_key.open(&context, c)?;
        let bank_cursor = bank_cursor.as_str().ok_or_else(|| ApiError::invalid("cursor", "the cursor is not valid for this query"))?;
        path = format!("/transactions?cursor={}", crate::query::encode(bank_cursor));
    }
    let token = crate::vault::token(o, p, user, "bank").await?;
    let v = get(o, p, cfg, &path, &token).await?;
    let txs: Vec<Value> = v["transactions"]
        .as_array()
        .ok_or_else(|| ApiError::BadGateway("the bank sent no transactions".into()))?
        .iter()
        .map(|t| json!({ "id": t["id"], "date": t["booked_at"], "amount": t["amount"], "currency": t["currency"], "description": t["description"] }))
        .collect();
    let next = match v["next_cursor"].as_str() {
        Some(c) if !c.is_empty() => Value::String(o.cursor_key.seal(&context, &Value::String(c.to_owned()))),
        _ => Value::Null,
    };
    Ok(json_response(StatusCode::OK, &json!({ "transactions": txs, "next_cursor": next })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn breaker_opens_after_threshold_and_probes_after_cooldown() {
        let b = Breaker::new(3, Duration::from_secs(10));
        let t = UNIX_EPOCH + Duration::from_secs(1000);
        for _ in 0..2 {
            assert!(b.allow(t).is_ok());
            b.record(false, t);
        }
        assert!(b.allow(t).is_ok(), "still closed after 2 failures");
        b.record(false, t);
        assert_eq!(b.allow(t + Duration::from_secs(4)), Err(Duration::from_secs(6)));
        assert!(b.allow(t + Duration::from_secs(10)).is_ok(), "one probe after the cooldown");
        assert!(b.allow(t + Duration::from_secs(10)).is_err(), "only one");
        b.record(false, t + Duration::from_secs(10));
        assert!(b.allow(t + Duration::from_secs(11)).is_err(), "a failed probe reopens");
        assert!(b.allow(t + Duration::from_secs(20)).is_ok());
        b.record(true, t + Duration::from_secs(20));
        assert!(!b.is_open());
    }
}
