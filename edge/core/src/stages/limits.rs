//! Cheap refusals: the request's header fields (431) and the URL's length (414) before anything
//! reads them, and, once a behaviour matched, its methods (405 with `Allow`) and the body's size
//! (413), before any origin work.

use super::{Ctx, Stop};
use crate::platform::Platform;
use crate::problem::EdgeError;

/// The headers Spin writes on every request (replacing any a client sent): not the client's, so
/// not counted. `spin-full-url` and `spin-path-info` repeat the URL, which `max_url_bytes` bounds.
const RUNTIME_HEADERS: [&str; 7] = [
    "spin-path-info",
    "spin-full-url",
    "spin-matched-route",
    "spin-base-path",
    "spin-raw-component-route",
    "spin-component-route",
    "spin-client-addr",
];

/// 431 when the request has more header fields than `[edge] max_header_count`, or they take more
/// than `[edge] max_header_bytes`, counted as CloudFront does: name + value + 4 (`": "`, CRLF).
/// What the runtime adds itself ([`RUNTIME_HEADERS`]) is left out.
pub(crate) fn headers<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let limits = &cx.edge.config.limits;
    let client = || cx.req.headers().iter().filter(|(k, _)| !RUNTIME_HEADERS.contains(&k.as_str()));
    let count = client().count();
    if count > limits.max_header_count {
        return Err(EdgeError::HeadersTooLarge(format!("{count} header fields; the limit is {}", limits.max_header_count)).into());
    }
    let bytes: usize = client().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if bytes > limits.max_header_bytes {
        return Err(
            EdgeError::HeadersTooLarge(format!("the header fields take {bytes} bytes; the limit is {}", limits.max_header_bytes)).into()
        );
    }
    Ok(())
}

/// 414 when the path and query are longer than `[edge] max_url_bytes`.
pub(crate) fn url<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let limit = cx.edge.config.limits.max_url_bytes;
    let len = cx.req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > limit {
        return Err(EdgeError::UriTooLong { len, limit }.into());
    }
    Ok(())
}

/// 405 for a method the behaviour does not allow, then 413 for a body over the behaviour's limit
/// (its `max_body_bytes`, else `[edge] max_body_bytes`): the declared `Content-Length` first, so
/// a request that announces too much is refused on its word, then the body as read.
pub(crate) fn method_and_body<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let behaviour = cx.route()?.behaviour;
    if !behaviour.methods.contains(cx.req.method()) {
        return Err(EdgeError::MethodNotAllowed { method: cx.req.method().to_string(), allow: behaviour.methods.allow_header() }.into());
    }
    let limit = behaviour.max_body_bytes.unwrap_or(cx.edge.config.limits.max_body_bytes);
    let declared = cx.req.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if let Some(len) = declared.filter(|l| *l > limit as u64) {
        return Err(EdgeError::BodyTooLarge { len: usize::try_from(len).unwrap_or(usize::MAX), limit }.into());
    }
    let len = cx.req.body().len();
    if len > limit {
        return Err(EdgeError::BodyTooLarge { len, limit }.into());
    }
    Ok(())
}
