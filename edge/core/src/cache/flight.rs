//! Request collapsing: while one request for a key is at the origin, others for the same key
//! wait for it instead of making their own (pingora-cache's `lock.rs`, for one instance). The
//! runtimes run an instance's requests on one thread, so a map of keys in flight with the
//! waiters' wakers is enough; a mutex keeps `Edge` `Sync` for the adapters' statics.
//!
//! A waiter wakes when the leader is done, however it ended (stored, not storable, failed, or
//! dropped mid-way), and looks the key up again; if there is still nothing, it goes to the
//! origin itself, without waiting again, so an uncacheable answer is never serialised.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
struct Flight {
    done: bool,
    waiters: Vec<Waker>,
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
        let waiters = {
            let mut f = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
            f.done = true;
            std::mem::take(&mut f.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }
}

/// Resolves when the leader is done.
#[derive(Debug)]
pub struct Wait(Arc<Mutex<Flight>>);

impl Future for Wait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut f = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if f.done {
            return Poll::Ready(());
        }
        if !f.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            f.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_leader_per_key_and_waiters_wake_when_it_ends() {
        let flights = Flights::default();
        let Joined::Lead(leader) = flights.join("k") else { panic!("first is the leader") };
        let Joined::Wait(mut wait) = flights.join("k") else { panic!("second waits") };
        assert!(matches!(flights.join("other"), Joined::Lead(_)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut wait).poll(&mut cx).is_pending());
        drop(leader);
        assert!(Pin::new(&mut wait).poll(&mut cx).is_ready());
        assert_eq!(flights.in_flight(), 0);
        assert!(matches!(flights.join("k"), Joined::Lead(_)), "the key is free again");
    }
}
