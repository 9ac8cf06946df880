//! One leader per key in flight, for one instance: the request that is at the origin for a key
//! (and the one background refresh of a key) holds a [`Leader`]; others learn that it is there.
//!
//! Others wait for the leader ([`Wait::finished`]) by polling a flag on a timer of their own
//! ([`Pause`], the platform's `sleep`), never by being woken: one request's task waking
//! another's is refused by both runtimes: workerd ("Cannot perform I/O on behalf of a different
//! request", then it cancels the request as hung) and wit-bindgen's async runtime on Spin
//! (`inter_task_wakeup_disabled`, a panic); both were seen as 500s under concurrent misses. The
//! poll starts at 1 ms and backs off to 25 ms, and a waiter gives up after [`MAX_WAIT`] (as
//! nginx's `proxy_cache_lock_timeout`) and goes to the origin itself. A platform without a timer
//! does not wait at all.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The longest a request waits for another's answer before going to the origin itself.
pub const MAX_WAIT: Duration = Duration::from_secs(5);
const FIRST_POLL: Duration = Duration::from_millis(1);
const LAST_POLL: Duration = Duration::from_millis(25);

/// A timer of the waiting request's own: waits and says `true`, or says `false` when there is
/// none (see [`crate::Platform::sleep`]).
pub trait Pause {
    fn sleep(&self, d: Duration) -> impl Future<Output = bool>;
}

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

    /// Waits until the leader has finished, polling on `pause`, for at most `limit`. `false` when
    /// it has not finished by then or there is no timer.
    pub async fn finished(&self, pause: &impl Pause, limit: Duration) -> bool {
        let (mut waited, mut step) = (Duration::ZERO, FIRST_POLL);
        while !self.is_done() {
            if waited >= limit || !pause.sleep(step).await {
                return false;
            }
            waited += step;
            step = (step * 2).min(LAST_POLL);
        }
        true
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

    /// A timer that counts how long it was asked to wait, and ends the leader after `after`.
    struct Counted<'a> {
        waited: std::cell::Cell<Duration>,
        leader: std::cell::RefCell<Option<Leader<'a>>>,
        after: Duration,
        timer: bool,
    }

    impl Pause for Counted<'_> {
        async fn sleep(&self, d: Duration) -> bool {
            self.waited.set(self.waited.get() + d);
            if self.waited.get() >= self.after {
                self.leader.borrow_mut().take();
            }
            self.timer
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn a_waiter_polls_until_the_leader_ends_and_gives_up_at_the_limit() {
        let flights = Flights::default();
        let Joined::Lead(leader) = flights.join("k") else { panic!() };
        let Joined::Wait(wait) = flights.join("k") else { panic!() };
        let pause = Counted { waited: Default::default(), leader: Some(leader).into(), after: Duration::from_millis(40), timer: true };
        assert!(block_on(wait.finished(&pause, MAX_WAIT)));
        let waited = pause.waited.get();
        assert!(
            waited >= Duration::from_millis(40) && waited < Duration::from_millis(70),
            "backs off, but not far past the end: {waited:?}"
        );

        let Joined::Lead(leader) = flights.join("k") else { panic!() };
        let Joined::Wait(wait) = flights.join("k") else { panic!() };
        let pause = Counted { waited: Default::default(), leader: Some(leader).into(), after: Duration::from_secs(60), timer: true };
        assert!(!block_on(wait.finished(&pause, MAX_WAIT)), "gives up");
        let waited = pause.waited.get();
        assert!(waited >= MAX_WAIT && waited <= MAX_WAIT + LAST_POLL, "{waited:?}");
        drop(pause);

        let Joined::Lead(leader) = flights.join("k") else { panic!() };
        let Joined::Wait(wait) = flights.join("k") else { panic!() };
        let pause = Counted { waited: Default::default(), leader: Some(leader).into(), after: Duration::ZERO, timer: false };
        assert!(!block_on(wait.finished(&pause, MAX_WAIT)), "no timer: no wait");
    }
}
