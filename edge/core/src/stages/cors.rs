//! CORS at the edge, for behaviours with `cors = "POLICY"` ([`crate::config::cors`]). Right after
//! routing and the access rule, before the method check, identity and rate limits: a preflight
//! carries no credentials by design, and is answered here (204) without an origin call. For
//! every other request the policy's decision is kept for the finishing step, which adds the
//! headers to whatever answer the request gets (origin, cache hit or edge error), after the cache,
//! so a stored answer never carries one origin's `Access-Control-Allow-Origin` to another.

use bytes::Bytes;
use http::{Response, StatusCode};

use super::{Ctx, Stop};
use crate::platform::Platform;
use crate::upstream::Body;

pub(crate) fn preflight<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let Some(policy) = cx.route()?.cors else { return Ok(()) };
    let result = policy.evaluate(cx.req.method(), cx.req.headers());
    let preflight = result.preflight;
    cx.ex.cors = Some(result);
    if !preflight {
        return Ok(());
    }
    let mut response = Response::new(Body::Full(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    Err(Stop::Answer(Box::new(response)))
}
