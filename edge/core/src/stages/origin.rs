//! The origin: [`crate::s3`] (signed GET/HEAD, SPA fallback) or [`crate::forward`] (a
//! SigV4-signed proxy with the headers, cookies and query the [`crate::origin_request`] policy
//! lets through). The request's body is handed over here; the
//! response's body is relayed as the runtime holds it.
//!
//! With `failover` (an origin group), a GET, HEAD or OPTIONS that the primary refuses to connect,
//! lets time out, or answers with one of the failover statuses is sent once more, to the
//! secondary: two attempts at most. The decision is made on the response head alone, so the
//! answer that is relayed still streams; the primary's unread body is dropped. Other methods are
//! never sent twice (the primary may have acted on them). This runs before the cache's
//! `stale-if-error`, which only sees what the secondary said.

use http::{Method, Response};

use super::{Ctx, Stop};
use crate::config::origin_group::Failover;
use crate::platform::{Out, Platform};
use crate::problem::EdgeError;
use crate::target::{ResolvedOrigin, Target};
use crate::upstream::Body;
use crate::{forward, origin_request, s3};

/// [`call`] (with failover), timed for `Server-Timing` and the log's `origin_ms`.
pub(crate) async fn fetch<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<http::Response<Body<P::Body>>, Stop<P::Body>> {
    let start = cx.platform.now();
    let result = call(cx).await;
    let took = super::since(cx.platform, start);
    cx.ex.timings.origin = Some(took);
    cx.ex.log.origin_ms = Some(took.as_millis() as u64);
    result
}

async fn call<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<Response<Body<P::Body>>, Stop<P::Body>> {
    let route = cx.route()?;
    let first = attempt(cx, route.origin).await;
    let Some(failover) = &route.behaviour.failover else { return Ok(first?.map(Body::Origin)) };
    let Some(why) = fails_over(failover, cx.req.method(), &first) else { return Ok(first?.map(Body::Origin)) };
    drop(first);
    let secondary = &cx.edge.origins[failover.origin];
    cx.ex.log.failover = Some(format!("{}: {why}", route.origin.name));
    cx.ex.log.origin = Some(secondary.name.clone());
    Ok(attempt(cx, secondary).await?.map(Body::Origin))
}

/// Why the first answer sends the request to the secondary, if it does.
pub fn fails_over<B>(failover: &Failover, method: &Method, first: &Result<Response<B>, EdgeError>) -> Option<String> {
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    match first {
        Ok(r) if failover.statuses.contains(&r.status()) => Some(format!("status {}", r.status().as_u16())),
        Err(e @ (EdgeError::OriginUnreachable | EdgeError::OriginTimeout)) => Some(e.to_string()),
        // An S3 origin's 404 and 403 come back as edge errors.
        Err(e @ (EdgeError::NotFound | EdgeError::OriginRefused)) if failover.statuses.contains(&e.status()) => {
            Some(format!("status {}", e.status().as_u16()))
        }
        _ => None,
    }
}

/// One request to one origin.
async fn attempt<P: Platform>(cx: &Ctx<'_, P>, origin: &ResolvedOrigin) -> Result<Response<P::Body>, EdgeError> {
    let route = cx.route()?;
    let path = cx.path()?;
    let up = Out(cx.platform);
    let req = &cx.req;
    match &origin.target {
        Target::S3 { base, bucket, path_style } => {
            let bucket = s3::Bucket { origin, base, bucket, path_style: *path_style };
            bucket.serve(req.method(), path, req.headers(), route.behaviour.spa_fallback, &up, cx.now).await
        }
        Target::Http { base } => {
            let config = &cx.edge.config;
            let cache = route.behaviour.cache.and_then(|i| config.cache_policies.get(i));
            let policy = route.behaviour.origin_request.and_then(|i| config.origin_request_policies.get(i));
            let client = origin_request::headers(cache, policy, req.headers());
            let query = origin_request::query(cache, policy, req.uri().query());
            let call = forward::Call {
                method: req.method(),
                path,
                query: query.as_deref(),
                client: &client,
                identity: &cx.identity,
                request_id: &cx.ex.request_id,
                trace: &cx.ex.trace,
            };
            forward::forward(origin, base, call, req.body().clone(), &up, cx.now).await
        }
    }
}
