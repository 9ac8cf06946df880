//! Rate limits: a behaviour's `rate_limits` (429 with `Retry-After` and a problem body), the
//! login routes' limits, and limits that count failed identity.
//!
//! Where each part runs (see the crate docs for the whole order):
//! - [`login`], before the login routes: `[auth.oidc] rate_limits` count every request to
//!   `/auth/login` and `/auth/callback` (login attempts) by address, header or cookie.
//! - [`gate`], after the method and body checks and before identity: a limit with
//!   `count = "failed_identity"` that the caller has exhausted refuses at once, before any token
//!   is verified or key looked up; [`identity_failed`] (called by identity when it refuses
//!   presented credentials) is what counts against it. So guessing keys costs the guesser.
//! - [`check`], after identity (a per-user or per-consumer key needs it, and an API key's plan
//!   comes with it) and before the cache lookup (a cache hit must count too, and a refused
//!   caller must not be served from the cache).
//!
//! A request must pass every limit, in the order listed; the first that refuses answers, and
//! the ones after it are not counted. A limit whose key has a part the request lacks (no `sub`
//! on an anonymous request, a header not sent) does not count that request, as WAF rate-based
//! rules do: pair such limits with one keyed by `ip`. The exception is `consumer`: a caller
//! without an API key but with a user (a session, a JWT) counts as `user:SUB`, with the limit's
//! own values (a plan comes only with an API key).

use super::{Ctx, Stop};
use crate::auth::jwt::JwtError;
use crate::auth::{AuthError, CONSUMER, PLAN, USER};
use crate::config::ratelimit::{Counting, KeyPart, RateLimit, Scope};
use crate::platform::Platform;
use crate::problem::EdgeError;
use crate::ratelimit::client::{Client, Peer};
use crate::ratelimit::{store_key, Ask, Op, Quota, Rate, StoreError, Verdict};

/// The client as the config's `[client]` rules judge it (computed once per request).
pub(crate) fn client<P: Platform>(cx: &mut Ctx<'_, P>) -> Client {
    if let Some(c) = &cx.client {
        return c.clone();
    }
    let c = cx.edge.config.rate_limits.client.client(cx.req.extensions().get::<Peer>(), cx.req.headers());
    cx.client = Some(c.clone());
    c
}

/// Puts the behaviour's policies (their configured values) on the answer, whatever phase ends
/// the request: `RateLimit-Policy` is on every response of a limited behaviour.
pub(crate) fn announce<P: Platform>(cx: &mut Ctx<'_, P>, limits: &[usize]) {
    let cfg = &cx.edge.config.rate_limits;
    for lim in limits.iter().filter_map(|&i| cfg.limits.get(i)) {
        let rate = Rate::new(lim.limit, lim.window, lim.burst);
        cx.ex.ratelimit.policy(&lim.name, rate.limit(), rate.window_secs());
        if let Some(q) = lim.daily_quota {
            cx.ex.ratelimit.policy(&daily(&lim.name), q, 86_400);
        }
    }
}

fn daily(name: &str) -> String {
    format!("{name}:daily")
}

/// `[auth.oidc] rate_limits` on `/auth/login` and `/auth/callback`.
pub(crate) async fn login<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let edge = cx.edge;
    let limits = &edge.config.rate_limits.login;
    if limits.is_empty() || edge.oidc.is_none() || !matches!(cx.path()?.as_str(), "/auth/login" | "/auth/callback") {
        return Ok(());
    }
    announce(cx, limits);
    for &i in limits {
        count(cx, i, true).await?;
    }
    Ok(())
}

/// Refuses a caller who has used up a `count = "failed_identity"` limit, before identity.
pub(crate) async fn gate<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let behaviour = cx.route()?.behaviour;
    for &i in &behaviour.limits.rate_limits {
        if cx.edge.config.rate_limits.limits.get(i).is_some_and(|l| l.counting == Counting::FailedIdentity) {
            count(cx, i, false).await?;
        }
    }
    Ok(())
}

/// Identity refused the request's credentials: count it against the behaviour's
/// `count = "failed_identity"` limits. A request without credentials is not a guess and does
/// not count; neither does a valid token without a scope. Never stops the request (identity's
/// own answer stands); a store failure is logged.
pub(crate) async fn identity_failed<P: Platform>(cx: &mut Ctx<'_, P>, err: &AuthError) {
    let guessed = match err {
        AuthError::InvalidToken(JwtError::Missing) => false,
        AuthError::InvalidToken(_) | AuthError::InvalidApiKey => true,
        AuthError::NoSession(why) => *why != "no session",
        _ => false,
    };
    let Ok(route) = cx.route() else { return };
    if !guessed {
        return;
    }
    for &i in &route.behaviour.limits.rate_limits {
        if cx.edge.config.rate_limits.limits.get(i).is_some_and(|l| l.counting == Counting::FailedIdentity) {
            // The answer is identity's; a refusal here only shows in the headers.
            let _ = count(cx, i, true).await;
        }
    }
}

/// The behaviour's limits that count every request.
pub(crate) async fn check<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let behaviour = cx.route()?.behaviour;
    for &i in &behaviour.limits.rate_limits {
        if cx.edge.config.rate_limits.limits.get(i).is_some_and(|l| l.counting == Counting::All) {
            count(cx, i, true).await?;
        }
    }
    Ok(())
}

/// The values of the key's parts, or `None` when the request lacks one.
fn key_values<P: Platform>(cx: &mut Ctx<'_, P>, lim: &RateLimit) -> Option<Vec<String>> {
    let mut out = Vec::with_capacity(lim.key.len());
    for part in &lim.key {
        let value = match part {
            KeyPart::Ip => {
                let c = client(cx);
                c.addr.map(|ip| cx.edge.config.rate_limits.client.key_of(ip))
            }
            KeyPart::Sub => identity_value(cx, USER),
            // A caller without an API key (a session, a JWT) counts under its user, never
            // unmetered. Consumer names cannot hold ':' (the origin refuses them at key
            // creation), so `user:SUB` never shares a consumer's counter.
            KeyPart::Consumer => identity_value(cx, CONSUMER).or_else(|| identity_value(cx, USER).map(|u| format!("user:{u}"))),
            KeyPart::Header(h) => cx.req.headers().get(h).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned()),
            KeyPart::Cookie(name) => crate::auth::cookie(cx.req.headers(), name),
        };
        out.push(value.filter(|v| !v.is_empty())?);
    }
    Some(out)
}

fn identity_value<P: Platform>(cx: &Ctx<'_, P>, name: &str) -> Option<String> {
    cx.identity.headers.iter().find(|(h, _)| h.as_str() == name).and_then(|(_, v)| v.to_str().ok()).map(str::to_owned)
}

/// An API key's plan as the origin gives it: `{"rate_per_second","burst","quota_per_day"}`.
fn plan<P: Platform>(cx: &Ctx<'_, P>) -> Option<(Rate, Option<u64>)> {
    let v: serde_json::Value = serde_json::from_str(&identity_value(cx, PLAN)?).ok()?;
    let num = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).filter(|n| *n >= 1);
    let rps = u32::try_from(num("rate_per_second")?).ok()?;
    let burst = num("burst").and_then(|b| u32::try_from(b).ok()).unwrap_or(rps);
    Some((Rate::new(rps, std::time::Duration::from_secs(1), burst), num("quota_per_day")))
}

/// Counts (or, with `commit` false, checks) one limit for this request.
async fn count<P: Platform>(cx: &mut Ctx<'_, P>, index: usize, commit: bool) -> Result<(), Stop<P::Body>> {
    let edge = cx.edge;
    let Some(lim) = edge.config.rate_limits.limits.get(index) else { return Err(EdgeError::Misconfigured.into()) };
    let Some(parts) = key_values(cx, lim) else { return Ok(()) };
    let (rate, quota) = match (lim.plan, plan(cx)) {
        (true, Some(p)) => p,
        _ => (Rate::new(lim.limit, lim.window, lim.burst), lim.daily_quota),
    };
    let key = store_key(&lim.name, &parts);
    let mut asks = vec![(lim.name.clone(), Op::Rate(rate))];
    cx.ex.ratelimit.policy(&lim.name, rate.limit(), rate.window_secs());
    if let Some(q) = quota {
        asks.push((daily(&lim.name), Op::Quota(Quota::daily(q))));
        cx.ex.ratelimit.policy(&daily(&lim.name), q, 86_400);
    }
    for (policy, op) in asks {
        let key = if matches!(op, Op::Quota(_)) { format!("{key}:d") } else { key.clone() };
        let ask = Ask { key, op, cost: 1, commit, timeout: lim.store_timeout };
        let verdict = match lim.scope {
            Scope::Instance => Ok(edge.rate_memory.acquire_at(&ask, micros(cx.now))),
            Scope::Global => match cx.platform.counters() {
                Some(store) => store.acquire(&ask).await,
                None => Err(StoreError::Missing),
            },
        };
        let verdict: Verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                let how = if lim.fail_open { "failed open" } else { "failed closed" };
                cx.ex.ratelimit.store_errors.push(format!("{}: {e}; {how}", lim.name));
                if lim.fail_open {
                    continue;
                }
                cx.ex.ratelimit.refused = Some(lim.name.clone());
                return Err(EdgeError::RateLimitUnavailable.into());
            }
        };
        // A check that admits counted nothing: its verdict describes a request that was not made.
        if commit || !verdict.admitted {
            cx.ex.ratelimit.state(&policy, verdict);
        }
        if !verdict.admitted {
            cx.ex.ratelimit.refused = Some(policy.clone());
            return Err(EdgeError::RateLimited { limit: policy, retry_after: verdict.retry_after_secs() }.into());
        }
    }
    Ok(())
}

fn micros(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
