//! The origin: [`crate::s3`] (signed GET/HEAD, SPA fallback) or [`crate::forward`] (a
//! SigV4-signed proxy with the headers, cookies and query the [`crate::origin_request`] policy
//! lets through). The request's body is handed over here; the
//! response's body is relayed as the runtime holds it.

use super::{Ctx, Stop};
use crate::platform::{Out, Platform};
use crate::target::Target;
use crate::upstream::Body;
use crate::{forward, origin_request, s3};

/// [`call`], timed for `Server-Timing` and the log's `origin_ms`.
pub(crate) async fn fetch<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<http::Response<Body<P::Body>>, Stop<P::Body>> {
    let start = cx.platform.now();
    let result = call(cx).await;
    let took = super::since(cx.platform, start);
    cx.ex.timings.origin = Some(took);
    cx.ex.log.origin_ms = Some(took.as_millis() as u64);
    result
}

async fn call<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<http::Response<Body<P::Body>>, Stop<P::Body>> {
    let route = cx.route()?;
    let origin = route.origin;
    let path = cx.path()?;
    let up = Out(cx.platform);
    let req = &cx.req;
    let response = match &origin.target {
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
    }?;
    Ok(response.map(Body::Origin))
}
