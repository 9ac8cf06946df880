//! The HTTP trigger: accepts connections, matches each request to a component with Spin's
//! router, hands it over the way Spin does (absolute URI with the original authority, the
//! `spin-*` headers, a body capped at the host's limit) and relays the component's response.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use verge_spin_manifest::{spin_headers, RouteMatch, Router, CHAINED_CLIENT_ADDR};
use wasmtime_wasi_http::{Error, WasiBody};

use crate::app::AppRuntime;

/// Serves `app` on `listener` until the process ends.
pub async fn serve(app: Arc<AppRuntime>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    loop {
        let (stream, client) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(client);
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(handle(&app, req, client, local).await) }
            });
            // Errors here are clients going away mid-request: nothing to answer.
            let _ = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn handle(app: &AppRuntime, req: Request<Incoming>, client: SocketAddr, local: SocketAddr) -> Response<WasiBody> {
    let path = req.uri().path().to_owned();
    let Some(route) = app.manifest.router.route(&path) else {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    };
    let limit = app.settings.max_request_body_bytes;
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large");
    }
    let component = route.component.to_owned();
    let req = match incoming_request(req, &route, client, local, limit) {
        Ok(r) => r,
        Err(why) => return plain(StatusCode::BAD_REQUEST, &why),
    };
    match app.dispatch(&component, req).await {
        Ok(resp) => resp,
        Err(e) => {
            eprintln!("component '{component}' failed on {path}: {e:#}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// The request as Spin hands it to a component: an absolute URI with the original authority
/// (`Host`), and the `spin-*` headers computed from the route match (a client's own `spin-*`
/// values are replaced, never trusted).
fn incoming_request(
    req: Request<Incoming>,
    route: &RouteMatch<'_>,
    client: SocketAddr,
    local: SocketAddr,
    limit: u64,
) -> Result<wasmtime_wasi_http::handler::Request, String> {
    let (mut parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.parse::<http::uri::Authority>().is_ok())
        .map_or_else(|| local.to_string(), str::to_owned);
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    parts.uri = http::Uri::builder()
        .scheme("http")
        .authority(host.as_str())
        .path_and_query(path_and_query.as_str())
        .build()
        .map_err(|e| format!("invalid request target: {e}"))?;
    for (k, v) in spin_headers(route, "http", &host, &path_and_query, client) {
        let (Ok(name), Ok(value)) = (header::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) else {
            return Err(format!("cannot represent {k}"));
        };
        parts.headers.insert(name, value);
    }
    let body = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Error::HttpRequestBodySize(None)
            } else {
                Error::InternalError(Some(e.to_string()))
            }
        })
        .boxed_unsync();
    Ok(Request::from_parts(parts, body))
}

/// A service-chaining request (`http://NAME.spin.internal/...`) as the target component sees it:
/// Spin removes the internal `Host` and matches the whole path as the private route `/...`.
/// `None` when `name` has no HTTP trigger.
pub(crate) fn chained_request(req: http::Request<WasiBody>, router: &Router, name: &str) -> Option<http::Request<WasiBody>> {
    let (mut parts, body) = req.into_parts();
    parts.headers.remove(header::HOST);
    let host = parts.uri.authority().map_or_else(|| format!("{name}.spin.internal"), |a| a.to_string());
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let route = router.synthetic(name, parts.uri.path())?;
    for (k, v) in spin_headers(&route, "http", &host, &path_and_query, CHAINED_CLIENT_ADDR) {
        if let (Ok(name), Ok(value)) = (header::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            parts.headers.insert(name, value);
        }
    }
    Some(http::Request::from_parts(parts, body))
}

fn plain(status: StatusCode, text: &str) -> Response<WasiBody> {
    let body = Full::new(Bytes::from(text.to_owned())).map_err(|never| match never {}).boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}
