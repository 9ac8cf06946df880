//! Rate limits and access rules at the edge (the phases are `stages::access` and
//! `stages::ratelimit`; the config is [`crate::config::ratelimit`]).
//!
//! - [`gcra`]: the counting rules as pure functions of state and time (GCRA for rates, a count
//!   per UTC day for quotas), with property tests.
//! - [`client`]: the client's address and country (trusted proxies, IPv6 by /64), CIDR blocks.
//! - [`headers`]: `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11).
//! - [`MemoryCounters`]: the in-instance store (`scope = "instance"`), and the shape every store
//!   has: [`Counters`], which a platform offers for `scope = "global"` through
//!   [`crate::Platform::counters`] (a Durable Object per key on Workers, Redis on Spin).
//!
//! ## One definition of the rules
//! A global store runs the same rules where the state lives, with its own clock, so that every
//! instance counts against one timeline: the Durable Object calls [`apply`] (Rust, in the same
//! Worker), Redis runs [`REDIS_SCRIPT`] (the same arithmetic in Lua, atomically, with Redis's
//! `TIME`). Requests and answers cross as short text ([`Ask::encode`], [`Verdict::encode`]).

pub mod client;
pub mod gcra;
pub mod headers;
mod memory;
#[cfg(test)]
mod pipeline;
#[cfg(test)]
mod props;

use std::time::Duration;

pub use client::Peer;
pub use gcra::{Quota, Rate, Verdict};
pub use memory::MemoryCounters;

use crate::cache::LocalFuture;

/// A counting rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Rate(Rate),
    Quota(Quota),
}

/// One question to a store: count `cost` requests against `key` (or, with `commit` false, say
/// whether they would be admitted without counting them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// Already hashed and prefixed with the limit's name; at most 100 characters of
    /// `[A-Za-z0-9:._-]`.
    pub key: String,
    pub op: Op,
    pub cost: u64,
    pub commit: bool,
    /// How long the store may take; past it the store answers [`StoreError::Timeout`].
    pub timeout: Duration,
}

/// Why a store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the rate-limit store did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the rate-limit store is unavailable: {0}")]
    Unavailable(String),
    #[error("this platform has no store for global rate limits")]
    Missing,
}

/// A place where counts are kept. `&self` and boxed futures, so that a platform can hand out
/// `&dyn Counters` (the same shape as [`crate::cache::CacheStore`]).
pub trait Counters {
    /// Counts (or checks) one request. A store must answer within `ask.timeout`.
    fn acquire<'a>(&'a self, ask: &'a Ask) -> LocalFuture<'a, Result<Verdict, StoreError>>;
}

/// The rules applied to a stored state in text form (what the Durable Object keeps): the verdict
/// and the state to store (`None`: leave it as it is).
pub fn apply(op: Op, state: Option<&str>, now_us: u64, cost: u64, commit: bool) -> (Verdict, Option<String>) {
    let (verdict, next) = match op {
        Op::Rate(rate) => {
            let prev = state.and_then(|s| s.strip_prefix("r:")).and_then(|s| s.parse::<u128>().ok());
            let (v, next) = rate.decide(prev, now_us, cost);
            (v, next.filter(|n| Some(*n) != prev).map(|n| format!("r:{n}")))
        }
        Op::Quota(quota) => {
            let prev = state.and_then(|s| s.strip_prefix("q:")).and_then(|s| {
                let (i, n) = s.split_once(':')?;
                Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?))
            });
            let (v, next) = quota.decide(prev, now_us, cost);
            (v, next.filter(|n| Some(*n) != prev).map(|(i, n)| format!("q:{i}:{n}")))
        }
    };
    (verdict, if commit { next } else { None })
}

impl Ask {
    /// `r limit window_us burst cost commit` or `q limit period_us cost commit`.
    pub fn encode(&self) -> String {
        let commit = u8::from(self.commit);
        match self.op {
            Op::Rate(r) => format!("r {} {} {} {} {commit}", r.limit(), r.window_us(), r.burst(), self.cost),
            Op::Quota(q) => format!("q {} {} {} {commit}", q.limit, q.period_us, self.cost),
        }
    }

    /// The rule, cost and commit flag from [`encode`](Self::encode)'s text.
    pub fn decode(s: &str) -> Option<(Op, u64, bool)> {
        let f: Vec<u64> = s.get(2..)?.split(' ').map(str::parse).collect::<Result<_, _>>().ok()?;
        let to32 = |v: u64| u32::try_from(v).ok();
        match (s.as_bytes().first(), f.as_slice()) {
            (Some(b'r'), [limit, window, burst, cost, commit]) => {
                let rate = Rate::new(to32(*limit)?, Duration::from_micros(*window), to32(*burst)?);
                Some((Op::Rate(rate), *cost, *commit == 1))
            }
            (Some(b'q'), [limit, period, cost, commit]) => {
                Some((Op::Quota(Quota { limit: *limit, period_us: *period }), *cost, *commit == 1))
            }
            _ => None,
        }
    }
}

impl Verdict {
    /// `admitted remaining reset_us retry_after_us`.
    pub fn encode(&self) -> String {
        format!("{} {} {} {}", u8::from(self.admitted), self.remaining, self.reset_us, self.retry_after_us)
    }

    pub fn decode(s: &str) -> Option<Verdict> {
        let f: Vec<u64> = s.trim().split(' ').map(str::parse).collect::<Result<_, _>>().ok()?;
        match f.as_slice() {
            [a, remaining, reset_us, retry_after_us] => {
                Some(Verdict { admitted: *a == 1, remaining: *remaining, reset_us: *reset_us, retry_after_us: *retry_after_us })
            }
            _ => None,
        }
    }
}

/// The rules in Lua for Redis (`EVAL script 1 KEY` + the words of [`Ask::encode`]), run
/// atomically with Redis's own clock. Rates keep the theoretical arrival time in microseconds
/// (a double: exact to well under a microsecond for any date this century); quotas keep one
/// counter per period (`KEY:<period number>`). Keys expire once they no longer matter. Returns
/// `{admitted, remaining, reset_us, retry_after_us}` like [`Verdict::encode`].
pub const REDIS_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local commit = ARGV[#ARGV] == '1'
if ARGV[1] == 'r' then
  local limit, window, burst, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local interval = window / limit
  local capacity = burst * interval
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
  if tat < now then tat = now end
  local new = tat + cost * interval
  if new - now <= capacity then
    if commit then
      redis.call('SET', KEYS[1], string.format('%.3f', new), 'PX', math.ceil((new - now) / 1000) + 1000)
    end
    return {1, math.floor((capacity - (new - now)) / interval + 1e-9), math.ceil(new - now), 0}
  end
  local left = math.floor((capacity - (tat - now)) / interval + 1e-9)
  if left < 0 then left = 0 end
  return {0, left, math.ceil(tat - now), math.ceil(new - capacity - now)}
else
  local limit, period, cost = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
  local index = math.floor(now / period)
  local key = KEYS[1] .. ':' .. string.format('%d', index)
  local used = tonumber(redis.call('GET', key) or '0') or 0
  local reset = (index + 1) * period - now
  if used + cost <= limit then
    if commit then
      redis.call('INCRBY', key, cost)
      redis.call('PEXPIRE', key, math.ceil(reset / 1000) + 60000)
    end
    return {1, limit - used - cost, reset, 0}
  end
  local left = limit - used
  if left < 0 then left = 0 end
  return {0, left, reset, reset}
end
";

/// The key a store sees: the limit's name and a hash of the key's values, so that no address,
/// subject or header value is stored or sent as it is.
pub fn store_key(limit: &str, parts: &[String]) -> String {
    let mut joined = String::new();
    for p in parts {
        joined.push_str(&p.len().to_string());
        joined.push(':');
        joined.push_str(p);
    }
    let hash = verge_signing::sha256_hex(joined.as_bytes());
    format!("{limit}:{}", &hash[..32])
}

/// What the finishing step needs to write the `RateLimit` fields and the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `(policy name, quota, window in seconds)` for `RateLimit-Policy`.
    pub policies: Vec<(String, u64, u64)>,
    /// `(policy name, verdict)` for `RateLimit`, for the limits counted so far.
    pub states: Vec<(String, Verdict)>,
    /// The limit that refused the request.
    pub refused: Option<String>,
    /// What went wrong with a store, for the log line (failed open or closed).
    pub store_errors: Vec<String>,
}

impl Report {
    pub fn policy(&mut self, name: &str, quota: u64, window_secs: u64) {
        match self.policies.iter_mut().find(|p| p.0 == name) {
            Some(p) => (p.1, p.2) = (quota, window_secs),
            None => self.policies.push((name.to_owned(), quota, window_secs)),
        }
    }

    pub fn state(&mut self, name: &str, v: Verdict) {
        match self.states.iter_mut().find(|s| s.0 == name) {
            Some(s) => s.1 = v,
            None => self.states.push((name.to_owned(), v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_and_verdicts_cross_as_text() {
        let ask = Ask {
            key: "k".into(),
            op: Op::Rate(Rate::new(7, Duration::from_secs(60), 3)),
            cost: 1,
            commit: true,
            timeout: Duration::from_millis(5),
        };
        assert_eq!(ask.encode(), "r 7 60000000 3 1 1");
        assert_eq!(Ask::decode(&ask.encode()), Some((ask.op, 1, true)));
        let q = Ask { op: Op::Quota(Quota::daily(5)), commit: false, ..ask };
        assert_eq!(Ask::decode(&q.encode()), Some((q.op, 1, false)));
        assert_eq!(Ask::decode("r 1 2"), None);
        assert_eq!(Ask::decode("x 1 2 3 4 5"), None);
        assert_eq!(Ask::decode(""), None);
        let v = Verdict { admitted: true, remaining: 4, reset_us: 10, retry_after_us: 0 };
        assert_eq!(Verdict::decode(&v.encode()), Some(v));
        assert_eq!(Verdict::decode("1 2"), None);
    }

    #[test]
    fn apply_keeps_state_as_text_and_only_when_committing() {
        let op = Op::Rate(Rate::new(1, Duration::from_secs(10), 1));
        let t = 1_800_000_000_000_000;
        let (v, s) = apply(op, None, t, 1, true);
        assert!(v.admitted);
        let s = s.unwrap();
        assert!(!apply(op, Some(&s), t + 1, 1, true).0.admitted);
        let (peek, none) = apply(op, None, t, 1, false);
        assert!(peek.admitted && none.is_none());
        // Garbage in the store reads as an empty state, never a panic.
        assert!(apply(op, Some("r:nonsense"), t, 1, true).0.admitted);
        let q = Op::Quota(Quota::daily(1));
        let (_, s) = apply(q, Some("q:x:y"), t, 1, true);
        assert!(!apply(q, s.as_deref(), t + 5, 1, true).0.admitted);
    }

    #[test]
    fn store_keys_hide_values_and_keep_parts_apart() {
        let a = store_key("per-ip", &["203.0.113.7".into()]);
        assert!(a.starts_with("per-ip:") && !a.contains("203"));
        assert_ne!(store_key("k", &["a:b".into(), "c".into()]), store_key("k", &["a".into(), "b:c".into()]));
    }
}
