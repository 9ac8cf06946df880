//! JWT parsing and verification: any token (and any JWKS) is accepted or refused with a
//! `JwtError`, never a panic; a forged token never verifies against the fixed keys.
#![no_main]
use libfuzzer_sys::fuzz_target;
use verge_edge::auth::jwt::{self, Alg, ClaimRules};

/// A P-256 and an Ed25519 public key (RFC 7515 A.3, RFC 8037 A.2), plus an HMAC key below.
const JWKS: &str = r#"{"keys":[
 {"kty":"EC","kid":"e","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
 {"kty":"OKP","kid":"o","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

fuzz_target!(|data: &[u8]| {
    // The first byte picks what the rest is: a token, or a JWKS document.
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 4 == 0 {
        let _ = jwt::parse_jwks(rest);
        return;
    }
    let Ok(token) = std::str::from_utf8(rest) else { return };
    let Ok(parsed) = jwt::parse(token) else { return };
    let mut keys: Vec<_> = jwt::parse_jwks(JWKS.as_bytes()).expect("the fixed JWKS parses").into_iter().map(|k| k.key).collect();
    keys.push(jwt::Key::Hmac(b"fuzz-hmac-key-of-thirty-two-bytes!".to_vec()));
    let all = [Alg::Rs256, Alg::Es256, Alg::EdDsa, Alg::Hs256];
    if let Ok(alg) = parsed.check_header(&all) {
        for k in &keys {
            if parsed.verify(alg, k).is_ok() {
                panic!("a fuzzed token verified against {k:?}");
            }
        }
    }
    let _ = parsed.kid();
    let (aud, clients) = (["api".to_owned()], ["app".to_owned()]);
    let rules = ClaimRules { issuer: "https://issuer.test/", audiences: &aud, client_ids: &clients, skew_secs: 60 };
    for now in [0, 1_800_000_000, u64::MAX] {
        let _ = jwt::check_claims(&parsed.payload, &rules, now);
    }
    let _ = jwt::is_id_token(&parsed.payload);
    let _ = jwt::scopes(&parsed.payload);
    let _ = jwt::fingerprint(token);
});
