//! Which origin a request on a behaviour with a `canary` goes to (CloudFront's continuous
//! deployment), decided without server state.
//!
//! In order: the configured header, then the configured cookie, force it (`1`/`true`: the canary,
//! `0`/`false`: the primary); otherwise the client's sticky id, the edge's `verge_canary` cookie,
//! hashed into a bucket from 0 to 99, goes to the canary when the bucket is below `weight`. A
//! client without the cookie gets a fresh id (from the request's entropy) and the cookie, so it
//! stays on the same side from then on; raising the weight from 5 to 10 keeps the first 5% where
//! they were. The id is random, never derived from the client's address or identity, so the
//! cookie says nothing about who the client is. At weight 0 or 100 there is no cookie.
//!
//! ```
//! use http::HeaderMap;
//! use verge_edge::canary::{decide, Side};
//! use verge_edge::config::origin_group::Canary;
//! let c = Canary { origin: 1, weight: 50, header: None, cookie: None };
//! let d = decide(&c, &HeaderMap::new(), [7; 16]);
//! assert!(d.set_cookie.is_some(), "a new client gets its sticky id");
//! let all = Canary { weight: 100, ..c };
//! assert_eq!(decide(&all, &HeaderMap::new(), [7; 16]).side, Side::Canary);
//! ```

use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use crate::config::origin_group::Canary;

/// The edge's sticky-id cookie. Never sent to an origin, never in a cache key.
pub const COOKIE: &str = "verge_canary";

/// How long the sticky id is kept: 30 days.
const MAX_AGE_SECS: u64 = 30 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Primary,
    Canary,
}

/// Why a side was chosen, for the log and `verge explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub side: Side,
    pub reason: String,
    /// The sticky id's cookie, for a client that had none.
    pub set_cookie: Option<HeaderValue>,
}

fn forced(value: &str) -> Option<Side> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "always" => Some(Side::Canary),
        "0" | "false" | "off" | "never" => Some(Side::Primary),
        _ => None,
    }
}

/// The bucket (0 to 99) of a sticky id.
pub fn bucket(id: &str) -> u8 {
    let d = Sha256::digest(id.as_bytes());
    (u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 100) as u8
}

/// Decides for a request with `headers`; `entropy` makes a new client's id.
pub fn decide(canary: &Canary, headers: &HeaderMap, entropy: [u8; 16]) -> Decision {
    let done = |side, reason: String| Decision { side, reason, set_cookie: None };
    if let Some(h) = &canary.header {
        if let Some(side) = headers.get(h).and_then(|v| v.to_str().ok()).and_then(forced) {
            return done(side, format!("header {h}"));
        }
    }
    if let Some(c) = &canary.cookie {
        if let Some(side) = crate::auth::cookie(headers, c).as_deref().and_then(forced) {
            return done(side, format!("cookie {c}"));
        }
    }
    // At 0 or 100 every client is on one side: nothing to keep sticky, no cookie.
    if canary.weight == 0 || canary.weight >= 100 {
        let side = if canary.weight == 0 { Side::Primary } else { Side::Canary };
        return done(side, format!("weight {}", canary.weight));
    }
    let existing = crate::auth::cookie(headers, COOKIE).filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()));
    let (id, set_cookie) = match existing {
        Some(id) => (id, None),
        None => {
            let id = verge_signing::to_hex(&Sha256::new().chain_update(b"verge canary id\0").chain_update(entropy).finalize()[..16]);
            let cookie =
                HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; Max-Age={MAX_AGE_SECS}; HttpOnly; Secure; SameSite=Lax")).ok();
            (id, cookie)
        }
    };
    let b = bucket(&id);
    let side = if b < canary.weight { Side::Canary } else { Side::Primary };
    let how = if set_cookie.is_some() { "new client" } else { "sticky client" };
    Decision { side, reason: format!("{how}, bucket {b} of 100, weight {}", canary.weight), set_cookie }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(weight: u8) -> Canary {
        Canary { origin: 1, weight, header: Some(http::HeaderName::from_static("x-canary")), cookie: Some("canary".into()) }
    }

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn header_then_cookie_force_a_side() {
        assert_eq!(decide(&canary(0), &with("x-canary", "1"), [0; 16]).side, Side::Canary);
        assert_eq!(decide(&canary(100), &with("x-canary", "false"), [0; 16]).side, Side::Primary);
        assert_eq!(decide(&canary(0), &with("cookie", "a=b; canary=true"), [0; 16]).side, Side::Canary);
        let d = decide(&canary(0), &with("x-canary", "1"), [0; 16]);
        assert!(d.set_cookie.is_none() && d.reason == "header x-canary");
    }

    #[test]
    fn the_share_is_about_the_weight_and_each_client_stays_put() {
        let c = canary(20);
        let mut on = 0;
        for i in 0..2000u32 {
            let mut e = [0u8; 16];
            e[..4].copy_from_slice(&i.to_be_bytes());
            let first = decide(&c, &HeaderMap::new(), e);
            let cookie = first.set_cookie.clone().unwrap();
            let pair = cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
            let again = decide(&c, &with("cookie", &pair), [9; 16]);
            assert_eq!(again.side, first.side, "sticky");
            assert!(again.set_cookie.is_none());
            on += usize::from(first.side == Side::Canary);
        }
        assert!((300..500).contains(&on), "{on} of 2000 at weight 20");
    }
}
