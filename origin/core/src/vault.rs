//! The user token vault: personal access tokens for external APIs, encrypted envelope-style.
//!
//! Each item gets its own data key (DEK, 256 bits). The token is sealed with the DEK
//! (AES-256-GCM); the DEK is sealed with a master key (KEK) from configuration, whose id is
//! stored beside it, so KEKs can rotate: new items use the active KEK, old items stay readable
//! as long as their KEK is configured. Both seals bind the user and provider as associated data,
//! so a ciphertext moved to another user's item does not open.
//!
//! Item (vault table): `pk = "USER#{user}"`, `sk = provider`, `kek_id`, `dek` (base64 nonce ||
//! sealed DEK), `token` (base64 nonce || sealed token), `updated_at`. No endpoint returns the
//! token and nothing logs it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use crate::date::rfc3339;
use crate::dynamo::s;
use crate::problem::ApiError;
use crate::{Origin, Platform};

/// Master keys by id, and the one new items use.
#[derive(Clone)]
pub struct MasterKeys {
    keys: Vec<(String, [u8; 32])>,
    active: String,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("ids", &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

impl MasterKeys {
    /// Parses `id:base64key,id:base64key` (32-byte keys) and the active id.
    ///
    /// # Errors
    /// A description of what is wrong (never a key).
    pub fn parse(spec: &str, active: &str) -> Result<Self, &'static str> {
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) = part.split_once(':').ok_or("each entry is id:base64key")?;
            let raw = STANDARD.decode(b64).map_err(|_| "a key is not base64")?;
            let key: [u8; 32] = raw.try_into().map_err(|_| "each key is 32 bytes")?;
            if id.is_empty() || keys.iter().any(|(k, _)| k == id) {
                return Err("key ids must be non-empty and distinct");
            }
            keys.push((id.to_owned(), key));
        }
        if !keys.iter().any(|(id, _)| id == active) {
            return Err("the active key id is not among the keys");
        }
        Ok(MasterKeys { keys, active: active.to_owned() })
    }

    fn get(&self, id: &str) -> Option<&[u8; 32]> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, v)| v)
    }
}

fn seal(key: &[u8; 32], nonce: [u8; 12], msg: &[u8], aad: &str) -> Result<String, ApiError> {
    let c = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let ct = c
        .encrypt(Nonce::from_slice(&nonce), Payload { msg, aad: aad.as_bytes() })
        .map_err(|_| ApiError::Internal("sealing failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend(ct);
    Ok(STANDARD.encode(out))
}

fn open(key: &[u8; 32], sealed: &str, aad: &str) -> Result<Vec<u8>, ApiError> {
    let raw = STANDARD.decode(sealed).map_err(|_| ApiError::Internal("a vault item is not base64".into()))?;
    if raw.len() < 12 + 16 {
        return Err(ApiError::Internal("a vault item is truncated".into()));
    }
    let c = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    c.decrypt(Nonce::from_slice(&raw[..12]), Payload { msg: &raw[12..], aad: aad.as_bytes() })
        .map_err(|_| ApiError::Internal("a vault item does not open".into()))
}

fn nonce<P: Platform>(p: &P) -> [u8; 12] {
    let mut n = [0u8; 12];
    n.copy_from_slice(&p.random()[..12]);
    n
}

fn key_of(user: &str, provider: &str) -> Value {
    json!({ "pk": s(&format!("USER#{user}")), "sk": s(provider) })
}

/// `PUT /api/me/connections/{provider}` with `{"token": "..."}`: 204, nothing echoed.
pub(crate) async fn put<P: Platform>(o: &Origin, p: &P, user: &str, provider: &str, body: &[u8]) -> Result<Response<Bytes>, ApiError> {
    let keys = o.config.vault.as_ref().ok_or_else(|| ApiError::Unavailable("the vault has no master key configured".into()))?;
    let v: Value = serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let obj = v.as_object().ok_or_else(|| ApiError::invalid("body", "the body must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| k.as_str() != "token") {
        return Err(ApiError::invalid(k, format!("unknown field `{k}`; the body takes only `token`")));
    }
    let token = obj
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| (1..=4096).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| ApiError::invalid("token", "`token` is required: 1-4096 visible ASCII characters"))?;
    let kek = keys.get(&keys.active).expect("active key checked at startup");
    let mut dek = [0u8; 32];
    dek[..16].copy_from_slice(&p.random());
    dek[16..].copy_from_slice(&p.random());
    let aad = format!("{user}\n{provider}");
    let item = json!({
        "pk": s(&format!("USER#{user}")), "sk": s(provider),
        "kek_id": s(&keys.active),
        "dek": s(&seal(kek, nonce(p), &dek, &format!("dek\n{aad}"))?),
        "token": s(&seal(&dek, nonce(p), token.as_bytes(), &format!("token\n{aad}"))?),
        "updated_at": s(&rfc3339(p.now()))
    });
    o.dynamo.call(p, "PutItem", &json!({ "TableName": o.config.tables.vault, "Item": item })).await?;
    Ok(no_content())
}

/// `DELETE /api/me/connections/{provider}`: 204, or 404 when there was none.
pub(crate) async fn delete<P: Platform>(o: &Origin, p: &P, user: &str, provider: &str) -> Result<Response<Bytes>, ApiError> {
    let req = json!({ "TableName": o.config.tables.vault, "Key": key_of(user, provider), "ReturnValues": "ALL_OLD" });
    let out = o.dynamo.call(p, "DeleteItem", &req).await?;
    if out.get("Attributes").is_none_or(Value::is_null) {
        return Err(ApiError::NotFoundItem(format!("no {provider} connection")));
    }
    Ok(no_content())
}

/// The user's token for `provider`, decrypted; 404 when the user has not connected.
pub(crate) async fn token<P: Platform>(o: &Origin, p: &P, user: &str, provider: &str) -> Result<String, ApiError> {
    let keys = o.config.vault.as_ref().ok_or_else(|| ApiError::Unavailable("the vault has no master key configured".into()))?;
    let out = o
        .dynamo
        .call(p, "GetItem", &json!({ "TableName": o.config.tables.vault, "Key": key_of(user, provider), "ConsistentRead": true }))
        .await?;
    let item = out
        .get("Item")
        .filter(|i| !i.is_null())
        .ok_or_else(|| ApiError::NotFoundItem(format!("no {provider} connection; connect it first")))?;
    let field = |k: &str| item[k]["S"].as_str().ok_or_else(|| ApiError::Internal(format!("a vault item lacks {k}")));
    let kek_id = field("kek_id")?;
    let kek = keys.get(kek_id).ok_or_else(|| ApiError::Internal(format!("master key {kek_id} is no longer configured")))?;
    let aad = format!("{user}\n{provider}");
    let dek: [u8; 32] = open(kek, field("dek")?, &format!("dek\n{aad}"))?
        .try_into()
        .map_err(|_| ApiError::Internal("a data key has the wrong size".into()))?;
    String::from_utf8(open(&dek, field("token")?, &format!("token\n{aad}"))?).map_err(|_| ApiError::Internal("a token is not UTF-8".into()))
}

fn no_content() -> Response<Bytes> {
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_with_their_key_and_context() {
        let k = [7u8; 32];
        let sealed = seal(&k, [1; 12], b"pat_secret", "token\nu\nbank").unwrap();
        assert!(!sealed.contains("pat_secret"));
        assert_eq!(open(&k, &sealed, "token\nu\nbank").unwrap(), b"pat_secret");
        assert!(open(&k, &sealed, "token\nother\nbank").is_err(), "moved to another user");
        assert!(open(&[8u8; 32], &sealed, "token\nu\nbank").is_err());
    }

    #[test]
    fn master_key_specs() {
        let k = STANDARD.encode([1u8; 32]);
        assert!(MasterKeys::parse(&format!("a:{k},b:{k}"), "b").is_ok());
        assert_eq!(MasterKeys::parse(&format!("a:{k}"), "b").unwrap_err(), "the active key id is not among the keys");
        assert_eq!(MasterKeys::parse("a:AAAA", "a").unwrap_err(), "each key is 32 bytes");
        let dbg = format!("{:?}", MasterKeys::parse(&format!("a:{k}"), "a").unwrap());
        assert!(!dbg.contains(&k), "{dbg}");
    }
}
