//! Serving objects from a private S3 bucket with signed GET/HEAD requests (CloudFront's origin
//! access control), with the SPA fallback: a missing object at a path without a file extension
//! is answered with `/index.html` and 200, so deep links into the app load it.

use std::time::SystemTime;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, Method, Request, Response, StatusCode};
use verge_signing::{sign, Profile};

use crate::path::NormalPath;
use crate::problem::EdgeError;
use crate::target::{BaseUrl, ResolvedOrigin};
use crate::upstream::{ConnectTimeout, OriginTimeout, Upstream};

/// Conditional and range headers the browser's request may carry to S3.
const FORWARDED: [HeaderName; 5] =
    [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE, header::IF_MATCH, header::IF_UNMODIFIED_SINCE, header::RANGE];

/// Object metadata passed back to the browser; everything else S3 sends (`x-amz-*`, `server`)
/// stays at the edge. `Content-Length` too: without it the cache could not tell an object too
/// large to keep before reading it, and read a 50 MB object whole into the instance.
const RETURNED: [HeaderName; 11] = [
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CACHE_CONTROL,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_DISPOSITION,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::EXPIRES,
];

pub(crate) struct Bucket<'a> {
    pub origin: &'a ResolvedOrigin,
    pub base: &'a BaseUrl,
    pub bucket: &'a str,
    pub path_style: bool,
}

/// What S3 said about a key.
enum Fetched<B> {
    Found(Response<B>),
    Missing,
}

impl Bucket<'_> {
    pub async fn serve<U: Upstream>(
        &self,
        method: &Method,
        path: &NormalPath,
        client: &HeaderMap,
        spa_fallback: bool,
        up: &U,
        now: SystemTime,
    ) -> Result<Response<U::Body>, EdgeError> {
        match self.fetch(method, path.object_key(), client, true, up, now).await? {
            Fetched::Found(r) => Ok(r),
            Fetched::Missing if spa_fallback && !path.has_extension() => {
                match self.fetch(method, "index.html", client, false, up, now).await? {
                    Fetched::Found(mut r) => {
                        *r.status_mut() = StatusCode::OK;
                        Ok(r)
                    }
                    Fetched::Missing => Err(EdgeError::NotFound),
                }
            }
            Fetched::Missing => Err(EdgeError::NotFound),
        }
    }

    fn url(&self, key: &str) -> String {
        let path = if self.path_style { format!("/{}/{key}", self.bucket) } else { format!("/{key}") };
        self.base.join(&NormalPath::encode(&path), None)
    }

    async fn fetch<U: Upstream>(
        &self,
        method: &Method,
        key: &str,
        client: &HeaderMap,
        conditional: bool,
        up: &U,
        now: SystemTime,
    ) -> Result<Fetched<U::Body>, EdgeError> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(self.url(key))
            .extension(OriginTimeout(self.origin.timeout))
            .extension(ConnectTimeout(self.origin.connect_timeout))
            .body(Bytes::new())
            .map_err(|_| EdgeError::Misconfigured)?;
        if conditional {
            for name in &FORWARDED {
                if let Some(v) = client.get(name) {
                    req.headers_mut().insert(name.clone(), v.clone());
                }
            }
        }
        sign(&mut req, &self.origin.credentials, &self.origin.scope, Profile::S3, now).map_err(|_| EdgeError::Misconfigured)?;
        let resp = up.forward(req).await.map_err(crate::forward::upstream_error)?;
        let status = resp.status();
        if status.is_success()
            || status == StatusCode::NOT_MODIFIED
            || status == StatusCode::RANGE_NOT_SATISFIABLE
            || status == StatusCode::PRECONDITION_FAILED
        {
            return Ok(Fetched::Found(strip(resp)));
        }
        // A private bucket answers 403 AccessDenied for a missing key when the edge may not
        // list it, 404 NoSuchKey when it may. Anything else (bad signature, throttling, 5xx) is
        // the origin failing, not the object missing.
        // Error bodies are short XML documents: reading one also releases the connection.
        let body = up.read(resp.into_body()).await.unwrap_or_default();
        let code = s3_error_code(&body);
        match (status, code.as_deref()) {
            (StatusCode::NOT_FOUND, _) | (StatusCode::FORBIDDEN, Some("AccessDenied")) => Ok(Fetched::Missing),
            (StatusCode::FORBIDDEN, None) if method == Method::HEAD => Ok(Fetched::Missing),
            _ => Err(EdgeError::OriginRefused),
        }
    }
}

fn strip<B>(resp: Response<B>) -> Response<B> {
    let (parts, body) = resp.into_parts();
    let mut out = Response::new(body);
    *out.status_mut() = parts.status;
    for name in &RETURNED {
        if let Some(v) = parts.headers.get(name) {
            out.headers_mut().insert(name.clone(), v.clone());
        }
    }
    out
}

/// The `<Code>` of an S3 XML error body.
pub(crate) fn s3_error_code(body: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?;
    let start = s.find("<Code>")? + "<Code>".len();
    let end = s[start..].find("</Code>")? + start;
    Some(s[start..end].to_owned())
}
