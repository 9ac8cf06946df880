//! Cheap refusals: the URL's length (414) before anything reads the path, and, once a behaviour
//! matched, its methods (405 with `Allow`) and the body's size (413), before any origin work.

use super::{Ctx, Stop};
use crate::platform::Platform;
use crate::problem::EdgeError;

/// 414 when the path and query are longer than `[edge] max_url_bytes`.
pub(crate) fn url<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let limit = cx.edge.config.limits.max_url_bytes;
    let len = cx.req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > limit {
        return Err(EdgeError::UriTooLong { len, limit }.into());
    }
    Ok(())
}

/// 405 for a method the behaviour does not allow, then 413 for a body over the limit.
pub(crate) fn method_and_body<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let behaviour = cx.route()?.behaviour;
    if !behaviour.methods.contains(cx.req.method()) {
        return Err(EdgeError::MethodNotAllowed { method: cx.req.method().to_string(), allow: behaviour.methods.allow_header() }.into());
    }
    let (len, limit) = (cx.req.body().len(), cx.edge.config.limits.max_body_bytes);
    if len > limit {
        return Err(EdgeError::BodyTooLarge { len, limit }.into());
    }
    Ok(())
}
