//! Global rate limits on Spin: Redis through `spin:redis@3.0.0`, one atomic script per question
//! ([`verge_edge::ratelimit::REDIS_SCRIPT`], the core's rules in Lua with Redis's clock), so
//! every instance and every host process on one Redis counts against one timeline. The address
//! is `[rate_limit_store] redis` (a Spin variable); it must be in the component's
//! `allowed_outbound_hosts` (`redis://host:port`).

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
use verge_edge::cache::LocalFuture;
use verge_edge::ratelimit::{Ask, Counters, StoreError, Verdict, REDIS_SCRIPT};

/// Keys are `verge:rl:<limit>:<hash>`.
const PREFIX: &str = "verge:rl:";

pub struct Redis {
    address: String,
}

impl Redis {
    pub fn new(address: Option<&str>) -> Option<Redis> {
        address.filter(|a| !a.is_empty()).map(|a| Redis { address: a.to_owned() })
    }

    async fn eval(&self, ask: &Ask) -> Result<Verdict, StoreError> {
        let unavailable = |e: spin_sdk::redis::Error| StoreError::Unavailable(format!("redis: {e:?}"));
        let conn = Connection::open(&self.address).await.map_err(unavailable)?;
        let mut args = vec![
            RedisParameter::Binary(REDIS_SCRIPT.as_bytes().to_vec()),
            RedisParameter::Int64(1),
            RedisParameter::Binary(format!("{PREFIX}{}", ask.key).into_bytes()),
        ];
        args.extend(ask.encode().split(' ').map(|w| RedisParameter::Binary(w.as_bytes().to_vec())));
        let out = conn.execute("EVAL", args).await.map_err(unavailable)?;
        let n: Vec<u64> = out
            .iter()
            .map(|r| match r {
                RedisResult::Int64(i) => u64::try_from(*i).ok(),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(|| StoreError::Unavailable(format!("redis: unexpected answer {out:?}")))?;
        match n.as_slice() {
            [a, remaining, reset_us, retry_after_us] => {
                Ok(Verdict { admitted: *a == 1, remaining: *remaining, reset_us: *reset_us, retry_after_us: *retry_after_us })
            }
            _ => Err(StoreError::Unavailable(format!("redis: unexpected answer {out:?}"))),
        }
    }
}

impl Counters for Redis {
    fn acquire<'a>(&'a self, ask: &'a Ask) -> LocalFuture<'a, Result<Verdict, StoreError>> {
        Box::pin(async move {
            match first(self.eval(ask), verge_wasi::sleep(ask.timeout)).await {
                Either::Left(v) => v,
                Either::Right(()) => Err(StoreError::Timeout(ask.timeout)),
            }
        })
    }
}

enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Whichever of two futures finishes first (the other is dropped).
async fn first<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(v));
        }
        if let Poll::Ready(v) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(v));
        }
        Poll::Pending
    })
    .await
}
