//! Forwarding to an `http` origin with a SigV4 signature, like CloudFront's origin access
//! control for Lambda function URLs: the body hash goes in `x-amz-content-sha256` (Lambda and
//! the Verge origin both refuse unsigned payloads).
//!
//! Only the client headers the behaviour's origin request policy names are forwarded
//! ([`crate::origin_request`]), all of them signed. The client's `Authorization`, `x-amz-*` and
//! `x-verge-*` headers never reach the origin: the edge's signature and the identity headers the
//! edge sets are the only ones it trusts.

use std::time::SystemTime;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response};
use verge_signing::{sign, Profile};

use crate::path::NormalPath;
use crate::problem::EdgeError;
use crate::request_id;
use crate::target::{BaseUrl, ResolvedOrigin};
use crate::upstream::{ConnectTimeout, OriginTimeout, Upstream, UpstreamError};

/// Hop-by-hop headers (RFC 9110 §7.6.1) never copied from an origin response.
const HOP_BY_HOP: [&str; 8] =
    ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];

pub(crate) fn upstream_error(e: UpstreamError) -> EdgeError {
    match e {
        UpstreamError::Timeout => EdgeError::OriginTimeout,
        UpstreamError::Connect(_) | UpstreamError::Other(_) => EdgeError::OriginUnreachable,
    }
}

/// What is forwarded: the client's request line, the client headers the origin request policy
/// lets through, and who the edge says is calling.
pub(crate) struct Call<'a> {
    pub method: &'a Method,
    pub path: &'a NormalPath,
    pub query: Option<&'a str>,
    pub client: &'a HeaderMap,
    pub identity: &'a crate::auth::Identity,
    pub request_id: &'a str,
    /// The trace: `traceparent`, `tracestate` and `X-Amzn-Trace-Id` go to the origin.
    pub trace: &'a crate::trace::TraceContext,
}

pub(crate) async fn forward<U: Upstream>(
    origin: &ResolvedOrigin,
    base: &BaseUrl,
    call: Call<'_>,
    body: Bytes,
    up: &U,
    now: SystemTime,
) -> Result<Response<U::Body>, EdgeError> {
    let Call { method, path, query, client, identity, request_id, trace } = call;
    let mut req = Request::builder()
        .method(method.clone())
        .uri(base.join(&NormalPath::encode(path.as_str()), query))
        .extension(OriginTimeout(origin.timeout))
        .extension(ConnectTimeout(origin.connect_timeout))
        .body(body)
        .map_err(|_| EdgeError::BadPath(crate::path::PathError::BadEscape))?;
    let h = req.headers_mut();
    for (name, v) in client {
        // The policy never names these; refused again here so no caller can add them.
        if !crate::origin_request::refused(name) || name == header::COOKIE {
            h.append(name.clone(), v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(request_id::HEADER, v);
    }
    // Signed with the rest (but `X-Amzn-Trace-Id`, which SigV4 leaves out, as AWS's SDKs do:
    // AWS services on the way may add to it).
    trace.stamp(h);
    // The identity the edge established; every one of these is signed below.
    for (k, v) in &identity.headers {
        h.insert(k.clone(), v.clone());
    }
    sign(&mut req, &origin.credentials, &origin.scope, Profile::Api, now).map_err(|_| EdgeError::Misconfigured)?;
    let mut resp = up.forward(req).await.map_err(upstream_error)?;
    for name in HOP_BY_HOP {
        resp.headers_mut().remove(name);
    }
    Ok(resp)
}
