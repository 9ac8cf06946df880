//! Property tests of the counting rules: never more than `limit + burst` admitted in any
//! window (in fact at most `limit + burst - 1`), and a client at or below the rate is never
//! refused, whatever came before it.

use std::time::Duration;

use proptest::prelude::*;

use super::gcra::{Quota, Rate};

const T0: u64 = 1_800_000_000_000_000;

/// Admits what `rate` admits of `arrivals` (microsecond offsets, sorted) and returns the
/// admitted times.
fn admitted(rate: &Rate, arrivals: &[u64]) -> Vec<u64> {
    let mut state = None;
    let mut out = Vec::new();
    for &t in arrivals {
        let (v, s) = rate.decide(state, T0 + t, 1);
        state = s;
        if v.admitted {
            out.push(t);
        }
    }
    out
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

proptest! {
    #[test]
    fn no_window_admits_more_than_limit_plus_burst(
        limit in 1u32..40,
        window_s in 1u64..5,
        burst in 1u32..20,
        arrivals in prop::collection::vec(0u64..20_000_000, 1..400).prop_map(sorted),
    ) {
        let rate = Rate::new(limit, Duration::from_secs(window_s), burst);
        let window = window_s * 1_000_000;
        let got = admitted(&rate, &arrivals);
        for (i, &start) in got.iter().enumerate() {
            let inside = got[i..].iter().take_while(|&&t| t < start + window).count() as u64;
            prop_assert!(inside < u64::from(limit) + u64::from(burst),
                "{inside} admitted in [{start}, {}) with limit {limit}, burst {burst}", start + window);
        }
    }

    #[test]
    fn a_client_at_or_below_the_rate_is_never_refused(
        limit in 1u32..1000,
        window_s in 1u64..100,
        burst in 1u32..10,
        slack in prop::collection::vec(0u64..5_000, 1..200),
        history in prop::collection::vec(0u64..1_000_000, 0..50).prop_map(sorted),
    ) {
        let rate = Rate::new(limit, Duration::from_secs(window_s), burst);
        // Whatever happened before (a burst that emptied the bucket), a client that waits one
        // interval and then keeps at least the interval between requests always gets through.
        let mut state = None;
        for &t in &history {
            state = rate.decide(state, T0 + t, 1).1;
        }
        let interval = (window_s * 1_000_000).div_ceil(u64::from(limit));
        let mut at = 1_000_000 + interval;
        for (i, s) in slack.iter().enumerate() {
            let (v, next) = rate.decide(state, T0 + at, 1);
            prop_assert!(v.admitted, "request {i} at +{at} us refused");
            state = next;
            // The next one at least window / limit later (whole microseconds, rounded up).
            at += interval + s;
        }
    }

    #[test]
    fn remaining_never_promises_more_than_is_admitted(
        limit in 1u32..50,
        burst in 1u32..50,
        arrivals in prop::collection::vec(0u64..3_000_000, 1..100).prop_map(sorted),
    ) {
        let rate = Rate::new(limit, Duration::from_secs(1), burst);
        let mut state = None;
        for &t in &arrivals {
            let (v, s) = rate.decide(state, T0 + t, 1);
            state = s;
            // `remaining` more at the same instant are all admitted, and one more is not.
            let mut probe = state;
            for _ in 0..v.remaining {
                let (p, s) = rate.decide(probe, T0 + t, 1);
                prop_assert!(p.admitted);
                probe = s;
            }
            prop_assert!(!rate.decide(probe, T0 + t, 1).0.admitted);
        }
    }

    #[test]
    fn a_quota_never_admits_more_than_its_limit_per_period(
        limit in 1u64..50,
        arrivals in prop::collection::vec(0u64..(3 * 86_400_000_000), 1..300).prop_map(sorted),
    ) {
        let q = Quota::daily(limit);
        let mut state = None;
        let mut per_day = std::collections::HashMap::new();
        for &t in &arrivals {
            let (v, s) = q.decide(state, T0 + t, 1);
            state = s;
            if v.admitted {
                *per_day.entry((T0 + t) / q.period_us).or_insert(0u64) += 1;
            }
        }
        prop_assert!(per_day.values().all(|&n| n <= limit));
    }
}
