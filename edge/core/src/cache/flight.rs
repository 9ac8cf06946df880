//! One leader per key in flight, for one instance: the request that is at the origin for a key
//! (and the one background refresh of a key) holds a [`Leader`]; others learn that it is there.
//!
//! Others do not wait for the leader. Waiting would mean one request's task waking another's,
//! and neither runtime allows that: workerd refuses it ("Cannot perform I/O on behalf of a
//! different request", then cancels the request as hung) and wit-bindgen's async runtime on
//! Spin panics (`inter_task_wakeup_disabled`); both were seen as 500s under concurrent misses
//! (scripts/bench-cache.sh). So concurrent misses for one key each go to the origin, and the
//! first answer stored serves the rest. Collapsing them needs each waiter to poll on its own
//! timer (a platform sleep), which is not built yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Default)]
struct Flight {
    done: bool,
}

/// Keys in flight on this instance.
#[derive(Debug, Default)]
pub struct Flights {
    map: Mutex<HashMap<String, Arc<Mutex<Flight>>>>,
}

/// Held by the request that went to the origin; dropping it releases the waiters.
#[derive(Debug)]
pub struct Leader<'a> {
    flights: &'a Flights,
    key: String,
    flight: Arc<Mutex<Flight>>,
}

/// What [`Flights::join`] gives.
#[derive(Debug)]
pub enum Joined<'a> {
    /// Nobody is fetching this key: this request fetches, and others wait for it.
    Lead(Leader<'a>),
    /// Another request is fetching: wait for it, then look again.
    Wait(Wait),
}

impl Flights {
    pub fn join(&self, key: &str) -> Joined<'_> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = map.get(key) {
            return Joined::Wait(Wait(f.clone()));
        }
        let flight = Arc::new(Mutex::new(Flight::default()));
        map.insert(key.to_owned(), flight.clone());
        Joined::Lead(Leader { flights: self, key: key.to_owned(), flight })
    }

    /// Keys in flight now (for tests).
    pub fn in_flight(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.flights.map.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.key);
        self.flight.lock().unwrap_or_else(PoisonError::into_inner).done = true;
    }
}

/// Another request leads this key.
#[derive(Debug)]
pub struct Wait(Arc<Mutex<Flight>>);

impl Wait {
    /// Whether the leader has finished.
    pub fn is_done(&self) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_leader_per_key_and_the_key_is_free_when_it_ends() {
        let flights = Flights::default();
        let Joined::Lead(leader) = flights.join("k") else { panic!("first is the leader") };
        let Joined::Wait(wait) = flights.join("k") else { panic!("second learns of it") };
        assert!(matches!(flights.join("other"), Joined::Lead(_)));
        assert!(!wait.is_done());
        drop(leader);
        assert!(wait.is_done());
        assert_eq!(flights.in_flight(), 0);
        assert!(matches!(flights.join("k"), Joined::Lead(_)), "the key is free again");
    }
}
