//! The two counting rules, as pure functions of the stored state and the time passed in.
//!
//! - [`Rate`]: GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp, as
//!   in `governor` and ATM networks). `limit` requests per `window` is the sustained rate, one
//!   every `window / limit`; `burst` requests may come at once when the bucket is full. So any
//!   window of length `window` admits at most `limit + burst - 1` requests (the `burst` at its
//!   start, then one per interval), and a client whose requests are at least `window / limit`
//!   apart is never refused. Time is kept in units of `1 / limit` microseconds, so the interval
//!   is a whole number (`window` in microseconds) and neither bound suffers from rounding.
//! - [`Quota`]: a count per fixed period aligned to the Unix epoch (a UTC day for daily quotas,
//!   like API Gateway usage plans), exact.
//!
//! A refused request costs nothing: the state is only written when a request is admitted.
//!
//! ```
//! use std::time::Duration;
//! use verge_edge::ratelimit::gcra::Rate;
//! let rate = Rate::new(2, Duration::from_secs(1), 2); // 2 per second, 2 at once
//! let t0 = 1_800_000_000_000_000; // microseconds since the epoch
//! let (a, s) = rate.decide(None, t0, 1);
//! let (b, s) = rate.decide(s, t0, 1);
//! let (c, _) = rate.decide(s, t0, 1);
//! assert!(a.admitted && b.admitted && !c.admitted);
//! assert_eq!(c.retry_after_us, 500_000); // the next one half a second later
//! ```

use std::time::Duration;

/// What a counter said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub admitted: bool,
    /// Requests that could still be admitted now (after this one, if admitted).
    pub remaining: u64,
    /// Microseconds until the counter is back to its full allowance (the `t` of the `RateLimit`
    /// field while requests remain).
    pub reset_us: u64,
    /// When refused: microseconds until this request would be admitted (`Retry-After`).
    pub retry_after_us: u64,
}

impl Verdict {
    /// Seconds for `RateLimit`'s `t`: until the next request is admitted when none remain,
    /// else until the allowance is whole again. Rounded up: a client waiting that long succeeds.
    pub fn reset_secs(&self) -> u64 {
        let us = if self.admitted || self.retry_after_us == 0 { self.reset_us } else { self.retry_after_us };
        us.div_ceil(1_000_000)
    }

    /// `Retry-After` in whole seconds, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_us.div_ceil(1_000_000).max(1)
    }
}

/// GCRA parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    limit: u64,
    window_us: u64,
    burst: u64,
}

impl Rate {
    /// `limit` requests per `window`, up to `burst` at once. Zero values are raised to 1.
    pub fn new(limit: u32, window: Duration, burst: u32) -> Rate {
        let window_us = u64::try_from(window.as_micros()).unwrap_or(u64::MAX).clamp(1, 1 << 40);
        Rate { limit: u64::from(limit.max(1)), window_us, burst: u64::from(burst.max(1)) }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn burst(&self) -> u64 {
        self.burst
    }

    pub fn window_us(&self) -> u64 {
        self.window_us
    }

    pub fn window_secs(&self) -> u64 {
        self.window_us.div_ceil(1_000_000)
    }

    /// The state as stored: the theoretical arrival time in units of `1 / limit` microseconds.
    /// `cost` requests at `now_us` (microseconds since the epoch): the verdict and the new state
    /// (unchanged when refused). A state from another configuration is read as it is: a bucket
    /// can only be as full as it could be.
    pub fn decide(&self, state: Option<u128>, now_us: u64, cost: u64) -> (Verdict, Option<u128>) {
        let (limit, interval) = (u128::from(self.limit), u128::from(self.window_us));
        let capacity = u128::from(self.burst) * interval;
        let now = u128::from(now_us) * limit;
        let tat = state.unwrap_or(0).max(now);
        let new_tat = tat + u128::from(cost) * interval;
        let to_units = |u: u128| u64::try_from(u.div_ceil(limit)).unwrap_or(u64::MAX);
        if new_tat - now <= capacity {
            let remaining = (capacity - (new_tat - now)) / interval;
            let verdict = Verdict {
                admitted: true,
                remaining: u64::try_from(remaining).unwrap_or(u64::MAX),
                reset_us: to_units(new_tat - now),
                retry_after_us: 0,
            };
            (verdict, Some(new_tat))
        } else {
            let remaining = capacity.saturating_sub(tat - now) / interval;
            let verdict = Verdict {
                admitted: false,
                remaining: u64::try_from(remaining).unwrap_or(u64::MAX),
                reset_us: to_units(tat - now),
                retry_after_us: to_units(new_tat - capacity - now),
            };
            (verdict, state)
        }
    }

    /// How long a stored state matters: once `now` passes it, the bucket is full and the state
    /// can be forgotten.
    pub fn expires_us(&self, state: u128) -> u64 {
        u64::try_from(state / u128::from(self.limit)).unwrap_or(u64::MAX)
    }
}

/// A count per fixed period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub period_us: u64,
}

/// A quota's stored state: the period's number (since the epoch) and its count.
pub type QuotaState = (u64, u64);

impl Quota {
    /// `limit` per UTC day (API Gateway's `DAY` quota period, which resets at midnight UTC).
    pub fn daily(limit: u64) -> Quota {
        Quota { limit, period_us: 86_400_000_000 }
    }

    pub fn decide(&self, state: Option<QuotaState>, now_us: u64, cost: u64) -> (Verdict, Option<QuotaState>) {
        let period = self.period_us.max(1);
        let index = now_us / period;
        let used = match state {
            Some((i, n)) if i == index => n,
            _ => 0,
        };
        let reset_us = (index + 1).saturating_mul(period).saturating_sub(now_us);
        if used.saturating_add(cost) <= self.limit {
            let used = used + cost;
            (Verdict { admitted: true, remaining: self.limit - used, reset_us, retry_after_us: 0 }, Some((index, used)))
        } else {
            (Verdict { admitted: false, remaining: self.limit.saturating_sub(used), reset_us, retry_after_us: reset_us }, state)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000_000;
    const SEC: u64 = 1_000_000;

    fn run(rate: &Rate, times: &[u64]) -> Vec<bool> {
        let mut state = None;
        times
            .iter()
            .map(|&t| {
                let (v, s) = rate.decide(state, t, 1);
                state = s;
                v.admitted
            })
            .collect()
    }

    #[test]
    fn a_full_bucket_admits_the_burst_then_paces() {
        let rate = Rate::new(10, Duration::from_secs(10), 3);
        let got = run(&rate, &[T0, T0, T0, T0, T0 + SEC - 1, T0 + SEC, T0 + SEC]);
        assert_eq!(got, [true, true, true, false, false, true, false]);
    }

    #[test]
    fn remaining_and_reset_describe_the_bucket() {
        let rate = Rate::new(60, Duration::from_secs(60), 5);
        let (v, s) = rate.decide(None, T0, 1);
        assert_eq!((v.remaining, v.reset_us), (4, SEC));
        let (v, _) = rate.decide(s, T0 + SEC / 2, 1);
        assert_eq!((v.remaining, v.reset_us), (3, 3 * SEC / 2));
        assert_eq!(v.reset_secs(), 2);
    }

    #[test]
    fn a_refusal_costs_nothing_and_says_when_to_retry() {
        let rate = Rate::new(1, Duration::from_secs(60), 1);
        let (_, s) = rate.decide(None, T0, 1);
        let (v, s2) = rate.decide(s, T0 + 10 * SEC, 1);
        assert!(!v.admitted);
        assert_eq!(s2, s);
        assert_eq!(v.retry_after_secs(), 50);
        assert_eq!(v.reset_secs(), 50);
        assert!(rate.decide(s, T0 + 60 * SEC, 1).0.admitted);
    }

    #[test]
    fn the_interval_is_exact_for_limits_that_do_not_divide_the_window() {
        // 3 per second is one every 333,333.3 microseconds: requests 333,334 apart always pass,
        // and over 3,000 of them no rounding error builds up into a refusal.
        let rate = Rate::new(3, Duration::from_secs(1), 1);
        let times: Vec<u64> = (0..3000).map(|i| T0 + i * 333_334).collect();
        assert!(run(&rate, &times).into_iter().all(|a| a));
        // One microsecond short of the interval is refused.
        assert_eq!(run(&rate, &[T0, T0 + 333_333]), [true, false]);
    }

    #[test]
    fn a_daily_quota_resets_at_midnight_utc() {
        let q = Quota::daily(2);
        let midnight = (T0 / (86_400 * SEC) + 1) * 86_400 * SEC;
        let (a, s) = q.decide(None, midnight - 10 * SEC, 1);
        let (b, s) = q.decide(s, midnight - 5 * SEC, 1);
        let (c, s) = q.decide(s, midnight - SEC, 1);
        assert!(a.admitted && b.admitted && !c.admitted);
        assert_eq!(c.retry_after_secs(), 1);
        assert_eq!((b.remaining, c.remaining), (0, 0));
        let (d, _) = q.decide(s, midnight, 1);
        assert!(d.admitted);
        assert_eq!(d.remaining, 1);
    }
}
