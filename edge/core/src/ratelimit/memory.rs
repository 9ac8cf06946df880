//! The in-instance store (`scope = "instance"`): a bounded map from key to state, in this
//! isolate's or component instance's memory. Free and immediate, and approximate across
//! instances: each counts only what it serves (a client spread over N instances gets up to N
//! times the limit), which is what `scope = "global"` is for.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Ask, Op, Verdict};

/// Keys kept before the ones whose state no longer matters are swept (and, if still full, all
/// dropped: a flood of distinct keys then resets the counts rather than growing memory).
const MAX_KEYS: usize = 50_000;

#[derive(Debug, Clone, Copy)]
enum Cell {
    Rate(u128),
    Quota(u64, u64),
}

/// Counts in this instance's memory.
#[derive(Debug, Default)]
pub struct MemoryCounters {
    cells: Mutex<HashMap<String, (Cell, u64)>>,
}

impl MemoryCounters {
    /// Counts `ask` at `now_us` (microseconds since the epoch).
    pub fn acquire_at(&self, ask: &Ask, now_us: u64) -> Verdict {
        let mut cells = self.cells.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let prev = cells.get(&ask.key).map(|c| c.0);
        let (verdict, next) = match ask.op {
            Op::Rate(rate) => {
                let (v, next) = rate.decide(prev.and_then(|c| if let Cell::Rate(t) = c { Some(t) } else { None }), now_us, ask.cost);
                (v, next.map(|t| (Cell::Rate(t), rate.expires_us(t))))
            }
            Op::Quota(quota) => {
                let state = prev.and_then(|c| if let Cell::Quota(i, n) = c { Some((i, n)) } else { None });
                let (v, next) = quota.decide(state, now_us, ask.cost);
                (v, next.map(|(i, n)| (Cell::Quota(i, n), (i + 1).saturating_mul(quota.period_us))))
            }
        };
        if let (true, Some(cell)) = (ask.commit, next) {
            if cells.len() >= MAX_KEYS && !cells.contains_key(&ask.key) {
                cells.retain(|_, (_, expires)| *expires > now_us);
                if cells.len() >= MAX_KEYS {
                    cells.clear();
                }
            }
            cells.insert(ask.key.clone(), cell);
        }
        verdict
    }

    /// Keys held (for tests).
    pub fn len(&self) -> usize {
        self.cells.lock().map_or(0, |c| c.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
