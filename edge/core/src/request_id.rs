//! `x-request-id`: the client's when it is well-formed, otherwise a fresh one from the entropy
//! the adapter passes in. Well-formed means 1-128 characters of `[A-Za-z0-9._:-]`, which keeps
//! log lines and downstream headers free of injection.

pub const HEADER: &str = "x-request-id";

pub fn choose(client: Option<&http::HeaderValue>, entropy: [u8; 16]) -> String {
    match client.and_then(|v| v.to_str().ok()) {
        Some(s) if is_well_formed(s) => s.to_owned(),
        _ => fresh(entropy),
    }
}

/// Sets `x-request-id` on a response.
pub fn stamp<B>(response: &mut http::Response<B>, id: &str) {
    if let Ok(v) = http::HeaderValue::from_str(id) {
        response.headers_mut().insert(HEADER, v);
    }
}

pub fn is_well_formed(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A UUID v4 in its usual text form.
pub fn fresh(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = verge_signing::to_hex(b);
    [&h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]].join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_good_ids_and_replaces_bad_ones() {
        let v = http::HeaderValue::from_static("abc-123");
        assert_eq!(choose(Some(&v), [0; 16]), "abc-123");
        let bad = http::HeaderValue::from_static("a b\"");
        assert_eq!(choose(Some(&bad), [0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(!is_well_formed(&"a".repeat(129)));
        assert_eq!(choose(None, [0; 16]).len(), 36);
    }
}
