//! Opaque pagination cursors that a client can hold but not forge.
//!
//! A cursor is `base64url(LastEvaluatedKey JSON) . base64url(HMAC-SHA256)`, where the MAC covers
//! the key *and* the query it belongs to (route, partner, filters). A cursor edited to point into
//! another partner's partition, or moved to another query, fails the MAC and answers 400; the
//! decoded key is also checked to be in the caller's partition.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::problem::ApiError;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(** redacted **)")
    }
}

impl CursorKey {
    pub fn new(key: &[u8]) -> Self {
        CursorKey(key.to_vec())
    }

    fn mac(&self, context: &str, payload: &[u8]) -> [u8; 32] {
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(context.as_bytes());
        m.update(b"\n");
        m.update(payload);
        m.finalize().into_bytes().into()
    }

    /// The cursor for `last_key` in the query described by `context`.
    pub fn seal(&self, context: &str, last_key: &Value) -> String {
        let payload = last_key.to_string();
        let mac = self.mac(context, payload.as_bytes());
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(mac))
    }

    /// The key a cursor carries, if it was made by [`seal`](Self::seal) for this `context`.
    ///
    /// # Errors
    /// 400 naming `cursor` for anything else.
    pub fn open(&self, context: &str, cursor: &str) -> Result<Value, ApiError> {
        let bad = || ApiError::invalid("cursor", "the cursor is not valid for this query");
        let (payload, mac) = cursor.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| bad())?;
        let expected = self.mac(context, &payload);
        if mac.len() != 32 || !bool::from(expected.ct_eq(&mac[..])) {
            return Err(bad());
        }
        serde_json::from_slice(&payload).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let k = CursorKey::new(b"k");
        let key = serde_json::json!({"pk": {"S": "acme"}, "sk": {"N": "7"}});
        let c = k.seal("orders\nacme", &key);
        assert_eq!(k.open("orders\nacme", &c).unwrap(), key);
        assert!(k.open("orders\nglobex", &c).is_err(), "another partner's query");
        let forged = format!("{}.{}", URL_SAFE_NO_PAD.encode(br#"{"pk":{"S":"globex"},"sk":{"N":"7"}}"#), c.split_once('.').unwrap().1);
        assert!(k.open("orders\nacme", &forged).is_err());
        assert!(k.open("orders\nacme", "garbage").is_err());
        assert!(CursorKey::new(b"other").open("orders\nacme", &c).is_err());
    }
}
