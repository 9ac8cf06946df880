//! JWT signatures verified with WebCrypto (`crypto.subtle`), which workerd runs natively: an
//! ES256 check costs about a third of the same check in Rust compiled to wasm. Imported keys are
//! cached per isolate by their JWK. EdDSA is left to Rust (it is already fast there).

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Object, Reflect};
use serde_json::Value;
use verge_edge::auth::jwt::{Alg, Verifier};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

thread_local! {
    static KEYS: RefCell<HashMap<String, CryptoKey>> = RefCell::new(HashMap::new());
}

/// Keys kept per isolate; JWKS have a handful, so this only bounds a misbehaving issuer.
const MAX_KEYS: usize = 64;

pub struct WebCrypto;

fn subtle() -> Option<SubtleCrypto> {
    Some(crate::global().crypto().ok()?.subtle())
}

fn object(pairs: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    o
}

fn params(alg: Alg) -> Option<(Object, Object)> {
    match alg {
        Alg::Es256 => Some((object(&[("name", "ECDSA"), ("namedCurve", "P-256")]), object(&[("name", "ECDSA"), ("hash", "SHA-256")]))),
        Alg::Rs256 => Some((object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")]), object(&[("name", "RSASSA-PKCS1-v1_5")]))),
        Alg::EdDsa | Alg::Hs256 => None,
    }
}

async fn import(subtle: &SubtleCrypto, alg: Alg, jwk: &Value, import_params: &Object) -> Option<CryptoKey> {
    let cache_key = format!("{}:{jwk}", alg.name());
    if let Some(k) = KEYS.with(|c| c.borrow().get(&cache_key).cloned()) {
        return Some(k);
    }
    let jwk_obj: Object = js_sys::JSON::parse(&jwk.to_string()).ok()?.dyn_into().ok()?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let promise = subtle.import_key_with_object("jwk", &jwk_obj, import_params, false, &usages).ok()?;
    let key: CryptoKey = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    KEYS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_KEYS {
            c.clear();
        }
        c.insert(cache_key, key.clone());
    });
    Some(key)
}

impl Verifier for WebCrypto {
    async fn verify(&self, alg: Alg, jwk: &Value, input: &[u8], signature: &[u8]) -> Option<bool> {
        let (import_params, verify_params) = params(alg)?;
        let subtle = subtle()?;
        // Anything WebCrypto cannot do (an unusual key) falls back to Rust by answering None.
        let key = import(&subtle, alg, jwk, &import_params).await?;
        let promise = subtle.verify_with_object_and_u8_array_and_u8_array(&verify_params, &key, signature, input).ok()?;
        JsFuture::from(promise).await.ok()?.as_bool()
    }

    fn name(&self) -> &'static str {
        "webcrypto"
    }
}
