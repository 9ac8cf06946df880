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
    /// One probe request is in flight; others are refused until it settles, or until `until`,
    /// when the probe's call would have timed out: a probe whose future was dropped (the client
    /// went away) or that never settles must not keep the breaker shut for good.
    HalfOpen {
        until: SystemTime,
    },
}

/// Opens after `threshold` failed calls in a row; after `cooldown`, lets one probe through, and
/// another if that one has not settled within its call's budget.
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

    /// `Err(wait)` while open. `budget` is the longest a call can take ([`call_budget`]): a
    /// probe let through now holds the half-open slot at most that long.
    pub fn allow(&self, now: SystemTime, budget: Duration) -> Result<(), Duration> {
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *s {
            State::Closed { .. } => Ok(()),
            State::Open { until } | State::HalfOpen { until } if now >= until => {
                *s = State::HalfOpen { until: now.checked_add(budget).unwrap_or(now) };
                Ok(())
            }
            State::Open { until } => Err(until.duration_since(now).unwrap_or(Duration::ZERO)),
            State::HalfOpen { until } => Err(until.duration_since(now).unwrap_or(Duration::ZERO).min(Duration::from_secs(1))),
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

/// The longest one bank call can take: every attempt timing out, with the longest wait between
/// attempts.
pub fn call_budget(timeout: Duration) -> Duration {
    timeout.saturating_mul(ATTEMPTS).saturating_add(MAX_RETRY_AFTER.max(crate::dynamo::MAX_BACKOFF).saturating_mul(ATTEMPTS - 1))
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
    if let Err(wait) = o.breaker.allow(p.now(), call_budget(cfg.timeout)) {
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

    const BUDGET: Duration = Duration::from_secs(13);

    #[test]
    fn breaker_opens_after_threshold_and_probes_after_cooldown() {
        let b = Breaker::new(3, Duration::from_secs(10));
        let t = UNIX_EPOCH + Duration::from_secs(1000);
        for _ in 0..2 {
            assert!(b.allow(t, BUDGET).is_ok());
            b.record(false, t);
        }
        assert!(b.allow(t, BUDGET).is_ok(), "still closed after 2 failures");
        b.record(false, t);
        assert_eq!(b.allow(t + Duration::from_secs(4), BUDGET), Err(Duration::from_secs(6)));
        assert!(b.allow(t + Duration::from_secs(10), BUDGET).is_ok(), "one probe after the cooldown");
        assert!(b.allow(t + Duration::from_secs(10), BUDGET).is_err(), "only one");
        b.record(false, t + Duration::from_secs(10));
        assert!(b.allow(t + Duration::from_secs(11), BUDGET).is_err(), "a failed probe reopens");
        assert!(b.allow(t + Duration::from_secs(20), BUDGET).is_ok());
        b.record(true, t + Duration::from_secs(20));
        assert!(!b.is_open());
    }

    #[test]
    fn the_half_open_slot_is_held_for_one_call_budget_at_most() {
        let b = Breaker::new(1, Duration::from_secs(10));
        let t = UNIX_EPOCH + Duration::from_secs(1000);
        b.record(false, t);
        assert!(b.allow(t + Duration::from_secs(10), BUDGET).is_ok(), "the probe");
        assert!(b.allow(t + Duration::from_secs(22), BUDGET).is_err(), "within its budget: still only one");
        assert!(b.allow(t + Duration::from_secs(23), BUDGET).is_ok(), "the probe never settled: another goes");
        assert!(b.allow(t + Duration::from_secs(23), BUDGET).is_err());
        assert_eq!(call_budget(Duration::from_secs(3)), Duration::from_secs(13), "3 attempts of 3 s and 2 waits of at most 2 s");
    }

    /// A bank that fails, hangs, or answers, on a clock the test moves.
    struct Bank {
        now: std::cell::Cell<SystemTime>,
        mode: std::cell::Cell<&'static str>,
    }

    impl Platform for Bank {
        fn now(&self) -> SystemTime {
            self.now.get()
        }
        fn random(&self) -> [u8; 16] {
            [7; 16]
        }
        async fn sleep(&self, _d: Duration) {}
        async fn send(&self, _req: Request<Bytes>) -> Result<Response<Bytes>, String> {
            match self.mode.get() {
                "hang" => std::future::pending().await,
                "down" => Ok(Response::builder().status(503).body(Bytes::new()).unwrap()),
                _ => Ok(Response::new(Bytes::from_static(br#"{"accounts":[]}"#))),
            }
        }
    }

    #[test]
    fn a_probe_that_never_settles_releases_the_half_open_slot_after_its_call_budget() {
        use std::future::Future;
        use std::task::{Context, Waker};
        let env: std::collections::HashMap<&str, &str> = [
            ("VERGE_DDB_ACCESS_KEY_ID", "ddb-id"),
            ("VERGE_DDB_SECRET_ACCESS_KEY", "ddb-secret"),
            ("VERGE_EDGE_ACCESS_KEY_ID", "edge-id"),
            ("VERGE_EDGE_SECRET_ACCESS_KEY", "Qn5rVw8Kx2Lz7Hc1Md4Tb9Jf6Gy3Pa0Se5Uo8Ri2WkA"),
            ("VERGE_BANK_API_URL", "http://bank.test"),
            ("VERGE_BANK_TIMEOUT_MS", "1000"),
            ("VERGE_BANK_BREAKER_FAILURES", "1"),
            ("VERGE_BANK_BREAKER_COOLDOWN_MS", "1000"),
        ]
        .into();
        let o = Origin::new(crate::OriginConfig::from_env(&|k| env.get(k).map(|v| v.to_string())).unwrap());
        let cfg = o.config.bank.clone().unwrap();
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let p = Bank { now: std::cell::Cell::new(t), mode: std::cell::Cell::new("down") };
        let run = |p: &Bank| {
            let mut f = std::pin::pin!(get(&o, p, &cfg, "/accounts", "tok"));
            match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                std::task::Poll::Ready(r) => Some(r.map(|_| ())),
                std::task::Poll::Pending => None,
            }
        };
        assert!(run(&p).unwrap().is_err(), "the bank is down: the breaker opens");
        // After the cooldown one probe goes out; the bank never answers and the request is
        // dropped (the client went away), so nothing is ever recorded.
        p.now.set(t + Duration::from_secs(2));
        p.mode.set("hang");
        assert!(run(&p).is_none(), "the probe is in flight");
        p.mode.set("up");
        p.now.set(t + Duration::from_secs(3));
        assert!(matches!(run(&p), Some(Err(ApiError::DependencyDown { .. }))), "one probe at a time");
        // Past the longest the probe's call could have taken, its slot is free again.
        p.now.set(t + Duration::from_secs(2) + Duration::from_secs(60));
        assert_eq!(run(&p), Some(Ok(())), "a new probe reaches the bank");
        assert!(!o.breaker.is_open());
    }
}
