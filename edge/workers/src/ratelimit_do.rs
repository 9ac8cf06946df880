//! Global rate limits on Workers: one Durable Object per key (`RateLimiter`, a SQLite-backed
//! class in this same Worker, bound as `VERGE_RATE_LIMITER`), never one object for everything
//! (Cloudflare's guidance: a single object is a bottleneck at about 1,000 requests a second).
//!
//! A Durable Object runs one event at a time, so reading its state, applying the core's rules
//! ([`verge_edge::ratelimit::apply`], the same Rust as the in-memory limits) with the object's
//! clock and writing the result is atomic without locks. The state is one short string, kept in
//! memory and in the object's storage (so a daily quota survives the object being evicted).
//!
//! The edge asks with `GET https://rate-limiter/<words of Ask::encode>` and reads
//! [`Verdict::encode`]'s words back; the call is bounded by the limit's `store_timeout_ms`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use verge_edge::cache::LocalFuture;
use verge_edge::ratelimit::{apply, Ask, Counters, StoreError, Verdict};
use worker::{durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, State};

/// The binding's name in wrangler.toml and in the Miniflare options.
pub const BINDING: &str = "VERGE_RATE_LIMITER";
const STATE_KEY: &str = "s";

#[durable_object]
pub struct RateLimiter {
    state: State,
    /// `None` until read from storage; then the stored state (`None` inside: nothing stored).
    cached: RefCell<Option<Option<String>>>,
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        RateLimiter { state, cached: RefCell::new(None) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let path = req.path();
        let Some((op, cost, commit)) = Ask::decode(&path.trim_start_matches('/').replace('/', " ")) else {
            return Response::error("bad question", 400);
        };
        let loaded = self.cached.borrow().clone();
        let current = match loaded {
            Some(s) => s,
            None => {
                let s = self.state.storage().get::<String>(STATE_KEY).await.ok().flatten();
                *self.cached.borrow_mut() = Some(s.clone());
                s
            }
        };
        let now_us = (js_sys::Date::now() * 1000.0) as u64;
        let (verdict, next) = apply(op, current.as_deref(), now_us, cost, commit);
        if let Some(next) = next {
            self.state.storage().put(STATE_KEY, &next).await?;
            *self.cached.borrow_mut() = Some(Some(next));
        }
        Response::ok(verdict.encode())
    }
}

thread_local! {
    /// The namespace of the request being served (bindings come with each request's `env`).
    static NAMESPACE: RefCell<Option<ObjectNamespace>> = const { RefCell::new(None) };
}

/// Remembers the binding, if the Worker has one, for [`DurableObjects`].
pub fn bind(env: &Env) {
    let ns = env.durable_object(BINDING).ok();
    NAMESPACE.with(|n| *n.borrow_mut() = ns);
}

/// Whether the binding is there (without it, global limits fail open or closed as configured).
pub fn bound() -> bool {
    NAMESPACE.with(|n| n.borrow().is_some())
}

/// The edge's side: asks the key's object.
pub struct DurableObjects;

impl DurableObjects {
    async fn ask(ask: &Ask) -> std::result::Result<Verdict, StoreError> {
        let unavailable = |e: worker::Error| StoreError::Unavailable(format!("durable object: {e}"));
        let stub = NAMESPACE.with(|n| {
            let n = n.borrow();
            let ns = n.as_ref().ok_or(StoreError::Missing)?;
            ns.id_from_name(&ask.key).and_then(|id| id.get_stub()).map_err(unavailable)
        })?;
        let url = format!("https://rate-limiter/{}", ask.encode().replace(' ', "/"));
        let mut resp = stub.fetch_with_str(&url).await.map_err(unavailable)?;
        let text = resp.text().await.map_err(unavailable)?;
        if resp.status_code() != 200 {
            return Err(StoreError::Unavailable(format!("durable object answered {}: {text}", resp.status_code())));
        }
        Verdict::decode(&text).ok_or_else(|| StoreError::Unavailable(format!("durable object: unexpected answer {text:?}")))
    }
}

impl Counters for DurableObjects {
    fn acquire<'a>(&'a self, ask: &'a Ask) -> LocalFuture<'a, std::result::Result<Verdict, StoreError>> {
        Box::pin(async move {
            let timeout = worker::Delay::from(ask.timeout.max(Duration::from_millis(1)));
            match first(Self::ask(ask), timeout).await {
                Some(v) => v,
                None => Err(StoreError::Timeout(ask.timeout)),
            }
        })
    }
}

/// The first future's output if it finishes before the second.
async fn first<A: Future, B: Future>(a: A, b: B) -> Option<A::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if b.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
