//! Outbound HTTP from components: `allowed_outbound_hosts` enforced as Spin does, service
//! chaining (`http://NAME.spin.internal`) served in-process, and everything else over one pooled
//! client shared by every instance (keep-alive connections, TLS with the webpki roots).
//!
//! A request to a host the component may not reach fails with `ErrorCode::HttpRequestDenied`,
//! the error Spin gives, and a line on stderr saying what to add to the manifest.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use verge_spin_manifest::Component;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::app::AppRuntime;

/// The one pooled client of the process.
pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, WasiBody>;

/// How long an idle pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);
/// When the guest sets no timeout (wasi:http's request-options are optional).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub fn client() -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().wrap_connector(http);
    Client::builder(hyper_util::rt::TokioExecutor::new()).pool_idle_timeout(POOL_IDLE).build(https)
}

/// The wasi:http hooks of one component instance.
pub struct Outbound {
    pub component: Arc<Component>,
    pub app: Weak<AppRuntime>,
}

type SendResult = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let component = Arc::clone(&self.component);
        let app = self.app.clone();
        Box::new(async move {
            let app = app.upgrade().ok_or(Error::InternalError(Some("host shutting down".into())))?;
            let uri = request.uri();
            let scheme = uri.scheme_str().unwrap_or("http").to_owned();
            let host = uri.host().unwrap_or_default().to_ascii_lowercase();
            let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            if let Some(name) = host.strip_suffix(".spin.internal") {
                if !component.allowed_outbound_hosts.allows_component(name) {
                    deny(&component.id, &format!("{scheme}://{host}"));
                    return Err(Error::HttpRequestDenied);
                }
                let resp = app.chain(name, request).await?;
                return Ok((resp, done));
            }
            let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
            if !component.allowed_outbound_hosts.allows(&scheme, &host, port) {
                deny(&component.id, &format!("{scheme}://{host}:{port}"));
                return Err(Error::HttpRequestDenied);
            }
            let head = options.and_then(|o| o.first_byte_timeout.or(o.connect_timeout)).unwrap_or(DEFAULT_TIMEOUT);
            let between = options.and_then(|o| o.between_bytes_timeout).unwrap_or(DEFAULT_TIMEOUT);
            let resp = match tokio::time::timeout(head, app.client.request(request)).await {
                Err(_) => return Err(Error::ConnectionReadTimeout),
                Ok(Err(e)) => return Err(classify(&e)),
                Ok(Ok(r)) => r,
            };
            let resp = resp.map(|body| BetweenBytes::new(body, between).boxed_unsync());
            Ok((resp, done))
        })
    }
}

fn deny(component: &str, origin: &str) {
    eprintln!(
        "Component '{component}' tried to make an HTTP request to '{origin}', which is not allowed: add it to allowed_outbound_hosts in the component's manifest section"
    );
}

/// The wasi:http error for a client failure.
fn classify(e: &hyper_util::client::legacy::Error) -> Error {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
                std::io::ErrorKind::TimedOut => Error::ConnectionTimeout,
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof => {
                    Error::ConnectionTerminated
                }
                _ if e.is_connect() => Error::DestinationUnavailable,
                _ => Error::HttpProtocolError,
            };
        }
        source = s.source();
    }
    if e.is_connect() {
        // hyper-util reports DNS failures and connect timeouts without an io::Error inside.
        Error::DestinationNotFound
    } else {
        Error::HttpProtocolError
    }
}

/// Whether `address` (`redis://host:port`) is in the component's allowed hosts.
pub fn redis_allowed(component: &Component, address: &str) -> bool {
    let Ok(uri) = address.parse::<http::Uri>() else { return false };
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else { return false };
    let port = uri.port_u16().unwrap_or(6379);
    component.allowed_outbound_hosts.allows(scheme, &host.to_ascii_lowercase(), port)
}

/// `scheme://host:port` of an address, without any user name or password in it.
pub fn redacted_origin(address: &str) -> String {
    match address.parse::<http::Uri>() {
        Ok(uri) => {
            format!("{}://{}:{}", uri.scheme_str().unwrap_or("redis"), uri.host().unwrap_or_default(), uri.port_u16().unwrap_or(6379))
        }
        Err(_) => "(an invalid address)".to_owned(),
    }
}

/// A response body that fails when the origin goes quiet for longer than the guest allows
/// between two frames (wasi:http's `between-bytes-timeout`).
struct BetweenBytes {
    inner: hyper::body::Incoming,
    timeout: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl BetweenBytes {
    fn new(inner: hyper::body::Incoming, timeout: Duration) -> Self {
        BetweenBytes { inner, timeout, sleep: Box::pin(tokio::time::sleep(timeout)) }
    }
}

impl http_body::Body for BetweenBytes {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = tokio::time::Instant::now() + self.timeout;
                self.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.sleep.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_origin;

    #[test]
    fn redacted_origins_carry_no_credentials() {
        assert_eq!(redacted_origin("redis://:hunter2@cache.internal:6380/0"), "redis://cache.internal:6380");
        assert_eq!(redacted_origin("redis://127.0.0.1"), "redis://127.0.0.1:6379");
        assert_eq!(redacted_origin("not a url at all"), "(an invalid address)");
    }
}
