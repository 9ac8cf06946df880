//! Request paths normalised once, before routing: everything after this sees a [`NormalPath`].
//!
//! Percent-escapes are decoded exactly once; `.` and `..` segments are resolved (RFC 3986
//! §5.2.4) and empty segments dropped. Forms whose meaning differs between decoders are refused
//! rather than guessed at: an encoded `/` (`%2F`), any backslash (raw or `%5C`), an encoded `%`
//! (double encoding such as `%252e`), control characters, invalid escapes or UTF-8, and a `..`
//! that would climb above the root. So the object key or origin path the edge asks for is always
//! exactly the normalised path, whatever the client sent.
//!
//! ```
//! use verge_edge::path::NormalPath;
//! assert_eq!(NormalPath::parse("/a/./b/../c//d").unwrap().as_str(), "/a/c/d");
//! assert_eq!(NormalPath::parse("/static/%2e%2e/index.html").unwrap().as_str(), "/index.html");
//! assert!(NormalPath::parse("/a/%2e%2e/%2e%2e/etc/passwd").is_err());
//! assert!(NormalPath::parse("/a%2fb").is_err());
//! ```

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Why a path was refused; all answer 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path must start with '/'")]
    NotAbsolute,
    #[error("the path contains an invalid percent-escape")]
    BadEscape,
    #[error("the path contains an encoded '/' (%2F)")]
    EncodedSlash,
    #[error("the path contains a backslash")]
    Backslash,
    #[error("the path contains an encoded '%' (double encoding)")]
    DoubleEncoded,
    #[error("the path contains a control character")]
    Control,
    #[error("the path is not valid UTF-8 once decoded")]
    NotUtf8,
    #[error("the path climbs above the root with '..'")]
    AboveRoot,
}

/// A decoded, normalised absolute path: starts with `/`, no empty, `.` or `..` segments.
/// A trailing slash is kept (`/docs/` and `/docs` are different objects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath(String);

/// Characters escaped when a normalised path is put back on the wire: everything but the
/// RFC 3986 unreserved set and `/`. This is also S3's own key encoding.
const PATH_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

impl NormalPath {
    /// # Errors
    /// A [`PathError`] naming the first problem.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if !raw.starts_with('/') {
            return Err(PathError::NotAbsolute);
        }
        let decoded = decode_once(raw)?;
        let mut segments: Vec<&str> = Vec::new();
        for seg in decoded.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    segments.pop().ok_or(PathError::AboveRoot)?;
                }
                s => segments.push(s),
            }
        }
        let trailing = decoded.len() > 1 && (decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/.."));
        let mut out = String::with_capacity(decoded.len());
        for s in &segments {
            out.push('/');
            out.push_str(s);
        }
        if out.is_empty() || (trailing && !segments.is_empty()) {
            out.push('/');
        }
        Ok(NormalPath(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object key for S3: the path without its leading `/`; `/` itself is `index.html`
    /// (CloudFront's default root object).
    pub fn object_key(&self) -> &str {
        match &self.0[1..] {
            "" => "index.html",
            k => k,
        }
    }

    /// Whether the last segment has a file extension (`/app.js` yes, `/users/42` no).
    pub fn has_extension(&self) -> bool {
        let last = self.0.rsplit('/').next().unwrap_or("");
        matches!(last.rfind('.'), Some(i) if i > 0 && i + 1 < last.len())
    }

    /// Percent-encodes a decoded path or key for a request line.
    pub fn encode(s: &str) -> String {
        utf8_percent_encode(s, PATH_ESCAPE).to_string()
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn decode_once(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let b = if b == b'%' {
            let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|c| hex(*c)), bytes.get(i + 2).and_then(|c| hex(*c))) else {
                return Err(PathError::BadEscape);
            };
            i += 3;
            match h * 16 + l {
                b'/' => return Err(PathError::EncodedSlash),
                b'%' => return Err(PathError::DoubleEncoded),
                v => v,
            }
        } else {
            i += 1;
            b
        };
        if b == b'\\' {
            return Err(PathError::Backslash);
        }
        if b < 0x20 || b == 0x7f {
            return Err(PathError::Control);
        }
        out.push(b);
    }
    String::from_utf8(out).map_err(|_| PathError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Result<String, PathError> {
        NormalPath::parse(s).map(|p| p.0)
    }

    #[test]
    fn normal_forms() {
        assert_eq!(n("/").unwrap(), "/");
        assert_eq!(n("//").unwrap(), "/");
        assert_eq!(n("/a//b/").unwrap(), "/a/b/");
        assert_eq!(n("/a/b/..").unwrap(), "/a/");
        assert_eq!(n("/a/.").unwrap(), "/a/");
        assert_eq!(n("/..").err(), Some(PathError::AboveRoot));
        assert_eq!(n("/caf%C3%A9.txt").unwrap(), "/café.txt");
        assert_eq!(n("/a%20b").unwrap(), "/a b");
    }

    #[test]
    fn traversal_forms_never_escape_the_normalised_path() {
        assert_eq!(n("/../etc/passwd").err(), Some(PathError::AboveRoot));
        assert_eq!(n("/%2e%2e/etc/passwd").err(), Some(PathError::AboveRoot));
        assert_eq!(n("/%2E%2E/etc").err(), Some(PathError::AboveRoot));
        assert_eq!(n("/a/%2e%2e/%2e%2e/etc").err(), Some(PathError::AboveRoot));
        assert_eq!(n("/static/..%2fsecret").err(), Some(PathError::EncodedSlash));
        assert_eq!(n("/static/%2F..%2Fsecret").err(), Some(PathError::EncodedSlash));
        assert_eq!(n("/static\\..\\secret").err(), Some(PathError::Backslash));
        assert_eq!(n("/static/%5c..%5csecret").err(), Some(PathError::Backslash));
        assert_eq!(n("/static/%252e%252e/secret").err(), Some(PathError::DoubleEncoded));
        assert_eq!(n("/a%00b").err(), Some(PathError::Control));
        assert_eq!(n("/a%zz").err(), Some(PathError::BadEscape));
        assert_eq!(n("/a%2").err(), Some(PathError::BadEscape));
        assert_eq!(n("/%c0%ae%c0%ae/").err(), Some(PathError::NotUtf8), "overlong UTF-8 dots");
        assert_eq!(n("/static/%2e%2e/index.html").unwrap(), "/index.html");
    }

    #[test]
    fn keys_and_extensions() {
        let p = NormalPath::parse("/").unwrap();
        assert_eq!(p.object_key(), "index.html");
        let p = NormalPath::parse("/assets/app.js").unwrap();
        assert_eq!(p.object_key(), "assets/app.js");
        assert!(p.has_extension());
        assert!(!NormalPath::parse("/users/42").unwrap().has_extension());
        assert!(!NormalPath::parse("/.well-known").unwrap().has_extension());
        assert!(!NormalPath::parse("/v1.2/users").unwrap().has_extension());
        assert_eq!(NormalPath::encode("a b/é?#"), "a%20b/%C3%A9%3F%23");
    }
}
