//! The edge's own health route (`[health] path`): build and config version as JSON, answered
//! before routing (no behaviour can shadow it, the config checks that none would be hidden) and
//! without any origin call, so it says whether this edge is up, not whether its origins are.

use bytes::Bytes;
use http::{header, Method, Response, StatusCode};

use super::{Ctx, Stop};
use crate::platform::Platform;
use crate::problem::EdgeError;
use crate::upstream::Body;

pub(crate) fn answer<P: Platform>(cx: &mut Ctx<'_, P>) -> Result<(), Stop<P::Body>> {
    let Some(cfg) = cx.edge.config.health.as_ref() else { return Ok(()) };
    if cx.path()?.as_str() != cfg.path {
        return Ok(());
    }
    cx.ex.log.behaviour = Some(cfg.path.clone());
    let method = cx.req.method();
    if method != Method::GET && method != Method::HEAD {
        return Err(EdgeError::MethodNotAllowed { method: method.to_string(), allow: "GET, HEAD".into() }.into());
    }
    let build = &cx.edge.build;
    let body = serde_json::json!({
        "status": "ok",
        "build": { "commit": build.commit, "time": build.time },
        "config": { "version": cx.edge.config.version },
    });
    let body = if method == Method::HEAD { Bytes::new() } else { Bytes::from(body.to_string()) };
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Full(body))
        .map_err(|_| EdgeError::Misconfigured)?;
    Err(Stop::Answer(Box::new(response)))
}
