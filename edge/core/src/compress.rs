//! Response compression where the runtime does not compress (Spin; workerd compresses on its
//! own, so the Workers build leaves these features out). A pure function over the finished
//! response: the adapter calls [`compress`] after [`crate::Edge::serve`].
//!
//! Features `gzip` (flate2 over miniz_oxide, about 47 KB of wasm) and `brotli` (Dropbox's
//! pure-Rust port, about 960 KB of wasm: its encoder's static tables). The Spin component builds
//! with `gzip` alone by default, under its size budget; `--features brotli` adds `br`.
//!
//! What is compressed, as CloudFront does: text types (`text/*`, JSON, JavaScript, XML, SVG,
//! wasm) between 1 KB and 10 MB, when the client's `Accept-Encoding` allows `br` or `gzip`
//! (q-values honoured; `br` preferred at equal weight), never an answer the origin already
//! encoded, never a partial (206) or bodiless answer. The answer gains `Vary: Accept-Encoding`,
//! and a strong `ETag` becomes weak (the bytes differ from the origin's). The cache holds the
//! origin's bytes, so encodings never share an entry: each answer is compressed on the way out.
//!
//! ```
//! # #[cfg(feature = "gzip")] {
//! use http::{HeaderMap, HeaderValue, Response};
//! let mut accept = HeaderMap::new();
//! accept.insert("accept-encoding", HeaderValue::from_static("gzip, br;q=0.5"));
//! let mut resp = Response::builder().header("content-type", "text/plain").body(bytes::Bytes::from(vec![b'a'; 4096])).unwrap();
//! verge_edge::compress::compress(&http::Method::GET, &accept, &mut resp);
//! assert_eq!(resp.headers()["content-encoding"], "gzip");
//! # }
//! ```

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};

/// CloudFront's bounds: smaller answers gain little, larger ones cost too much memory here.
pub const MIN_BYTES: usize = 1024;
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// Brotli quality 5 and gzip level 6: CloudFront-like ratios for a few milliseconds per
/// megabyte (brotli's maximum, 11, is ten times slower for a few percent more).
#[cfg(feature = "brotli")]
const BROTLI_QUALITY: u32 = 5;
#[cfg(feature = "brotli")]
const BROTLI_WINDOW: u32 = 22;
#[cfg(feature = "gzip")]
const GZIP_LEVEL: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Gzip,
}

impl Coding {
    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to answer with for an `Accept-Encoding`, if any: the one with the higher q-value,
/// `br` at equal weight; `*` stands for a coding not named; `q=0` refuses.
pub fn choose(accept_encoding: &HeaderMap) -> Option<Coding> {
    let (mut br, mut gzip, mut star) = (None::<f32>, None::<f32>, None::<f32>);
    for item in accept_encoding.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    // Only the codings this build has (features `gzip`, `brotli`).
    let br = if cfg!(feature = "brotli") { br.or(star).unwrap_or(0.0) } else { 0.0 };
    let gzip = if cfg!(feature = "gzip") { gzip.or(star).unwrap_or(0.0) } else { 0.0 };
    match (br > 0.0, gzip > 0.0) {
        (false, false) => None,
        _ if br >= gzip => Some(Coding::Br),
        _ => Some(Coding::Gzip),
    }
}

/// Whether a content type is text worth compressing.
pub fn compressible(content_type: &str) -> bool {
    let t = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    t.starts_with("text/")
        || t.ends_with("+json")
        || t.ends_with("+xml")
        || matches!(
            t.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "image/svg+xml"
                | "application/wasm"
                | "application/manifest+json"
        )
}

/// Whether an answer with this status and these headers, of `len` bytes, is one to compress
/// (for a client that accepts a coding).
pub fn eligible(method: &Method, status: StatusCode, h: &HeaderMap, len: usize) -> bool {
    *method != Method::HEAD
        && status != StatusCode::PARTIAL_CONTENT
        && status != StatusCode::NOT_MODIFIED
        && !h.contains_key(header::CONTENT_ENCODING)
        && !h.contains_key(header::CONTENT_RANGE)
        && !h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).is_some_and(|v| v.to_ascii_lowercase().contains("no-transform"))
        && h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(compressible)
        && (MIN_BYTES..=MAX_BYTES).contains(&len)
}

/// Compresses `resp` in place for a client that sent `request` headers with `method`, when it
/// should be; otherwise leaves it alone (HEAD answers too: there is no body to encode).
pub fn compress(method: &Method, request: &HeaderMap, resp: &mut Response<Bytes>) {
    if !eligible(method, resp.status(), resp.headers(), resp.body().len()) {
        return;
    }
    // Whether the client could get it compressed or not, the answer depends on Accept-Encoding.
    vary_on_accept_encoding(resp.headers_mut());
    let Some(coding) = choose(request) else { return };
    let Some(encoded) = encode(coding, resp.body()) else { return };
    if encoded.len() >= resp.body().len() {
        return;
    }
    let h = resp.headers_mut();
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.as_str()));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(encoded.len()));
    if let Some(etag) = h.get(header::ETAG).and_then(|v| v.to_str().ok()).filter(|v| !v.starts_with("W/")) {
        if let Ok(weak) = HeaderValue::from_str(&format!("W/{etag}")) {
            h.insert(header::ETAG, weak);
        }
    }
    *resp.body_mut() = Bytes::from(encoded);
}

fn vary_on_accept_encoding(h: &mut HeaderMap) {
    let present = h
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "accept-encoding" | "*"));
    if !present {
        h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// The body in `coding`; `None` if the encoder failed (the answer then goes uncompressed).
pub fn encode(coding: Coding, body: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    match coding {
        #[cfg(feature = "gzip")]
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), flate2::Compression::new(GZIP_LEVEL));
            e.write_all(body).ok()?;
            e.finish().ok()
        }
        #[cfg(feature = "brotli")]
        Coding::Br => {
            let mut out = Vec::with_capacity(body.len() / 3);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
                w.write_all(body).ok()?;
                w.flush().ok()?;
            }
            Some(out)
        }
        #[allow(unreachable_patterns)] // a build with one coding never chooses the other
        _ => None,
    }
}

#[cfg(all(test, feature = "gzip", feature = "brotli"))]
mod tests {
    use super::*;
    use std::io::Read;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    fn text(len: usize, ctype: &str) -> Response<Bytes> {
        let body: Vec<u8> = (0..len).map(|i| b"verge edge "[i % 11]).collect();
        Response::builder().header("content-type", ctype).header("etag", "\"abc\"").body(Bytes::from(body)).unwrap()
    }

    #[test]
    fn q_values_pick_the_coding() {
        assert_eq!(choose(&accept("gzip, deflate, br, zstd")), Some(Coding::Br));
        assert_eq!(choose(&accept("gzip, br;q=0.5")), Some(Coding::Gzip));
        assert_eq!(choose(&accept("br;q=0, gzip;q=0")), None);
        assert_eq!(choose(&accept("identity")), None);
        assert_eq!(choose(&accept("*;q=0.1, br;q=0")), Some(Coding::Gzip));
        assert_eq!(choose(&HeaderMap::new()), None);
    }

    #[test]
    fn text_is_compressed_and_decodes_to_the_same_bytes() {
        for (coding, want) in [("gzip", Coding::Gzip), ("br", Coding::Br)] {
            let mut resp = text(20_000, "application/json; charset=utf-8");
            let original = resp.body().clone();
            compress(&Method::GET, &accept(coding), &mut resp);
            assert_eq!(resp.headers()["content-encoding"], want.as_str());
            assert_eq!(resp.headers()["vary"], "Accept-Encoding");
            assert_eq!(resp.headers()["etag"], "W/\"abc\"");
            assert!(resp.body().len() < original.len() / 5, "{}", resp.body().len());
            let mut decoded = Vec::new();
            match want {
                Coding::Gzip => flate2::read::GzDecoder::new(&resp.body()[..]).read_to_end(&mut decoded).unwrap(),
                Coding::Br => brotli::Decompressor::new(&resp.body()[..], 4096).read_to_end(&mut decoded).unwrap(),
            };
            assert_eq!(decoded, original);
        }
    }

    #[test]
    fn small_binary_encoded_partial_and_refused_answers_are_left_alone() {
        let cases: Vec<(Response<Bytes>, &str)> = vec![
            (text(500, "text/html"), "gzip"),
            (text(5000, "image/png"), "gzip"),
            (text(5000, "text/html"), "identity"),
            (
                {
                    let mut r = text(5000, "text/css");
                    r.headers_mut().insert("content-encoding", HeaderValue::from_static("gzip"));
                    r
                },
                "gzip",
            ),
            (
                {
                    let mut r = text(5000, "text/css");
                    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                    r
                },
                "gzip",
            ),
            (
                {
                    let mut r = text(5000, "text/css");
                    r.headers_mut().insert("cache-control", HeaderValue::from_static("no-transform"));
                    r
                },
                "br",
            ),
        ];
        for (mut resp, ae) in cases {
            let before = resp.body().clone();
            compress(&Method::GET, &accept(ae), &mut resp);
            assert!(!resp.headers().contains_key("content-encoding") || resp.body() == &before);
            assert_eq!(resp.body(), &before);
        }
        // Text the client could have had compressed still says it varies.
        let mut resp = text(5000, "text/html");
        compress(&Method::GET, &accept("identity"), &mut resp);
        assert_eq!(resp.headers()["vary"], "Accept-Encoding");
    }
}
