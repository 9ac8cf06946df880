//! Secrets Verge chooses itself (the session secret, an HS256 secret, the key the edge signs
//! origin requests with): how strong they must be, and how keys are derived from them.
//!
//! # The rule: at least 32 bytes (256 bits) of key material
//!
//! A secret is only ever known by its text, so its strength is judged by the text: the length at
//! which a uniformly random string over its alphabet carries 256 bits.
//!
//! | the text uses only            | bits per character | at least        | generate with                          |
//! |-------------------------------|--------------------|-----------------|----------------------------------------|
//! | hex digits `0-9a-fA-F`        | 4                  | 64 characters   | `openssl rand -hex 32`, `secrets.token_hex(32)` |
//! | base64 or base64url (`=` padding not counted) | 6  | 43 characters   | `openssl rand -base64 32`, `secrets.token_urlsafe(32)` |
//! | other printable ASCII         | log2(95) = 6.57    | 39 characters   |                                        |
//! | anything else (bytes)         | 8                  | 32 bytes        |                                        |
//!
//! and, so that placeholders and repeated words (`changeme` x 8) are caught, at least
//! [`MIN_DISTINCT`] different characters (a random 64-character hex string has fewer with a
//! probability below 10^-15).
//!
//! Why by the text, not decoded: the text is the key material everywhere it is used. An HS256
//! issuer signs with the secret's bytes as written, SigV4 keys its HMAC with `"AWS4" + secret`,
//! and HKDF takes the text as input keying material; decoding would have to guess the encoding (a
//! 64-character hex string is also valid base64) and would change the key an issuer or the origin
//! already uses. No rule on the text can prove a secret random: this one refuses what is too
//! short or too repetitive to possibly hold 256 bits (the size of HS256's hash, RFC 7518 section
//! 3.2, and of the AES-256 key sealing session cookies).
//!
//! Keys AWS issues (40 characters, 240 bits) are AWS's to choose: [`issued_by_aws`] tells them
//! apart, and only secrets Verge parties share among themselves are held to this rule.
//!
//! # Keys from a secret
//!
//! [`derive_key`] is HKDF-SHA256 (RFC 5869) with one `info` label per purpose, so a key used to
//! seal one kind of cookie never seals another, and no purpose's output says anything about
//! another's.
//!
//! ```
//! use verge_signing::secret::{check, derive_key, WeakSecret};
//!
//! assert!(check("4dGv5Zk0b3fP1nQxW9yR2sT7uV8wX6zA0cE3hJ5mL1o").is_ok()); // 43 base64url characters
//! assert!(matches!(check("correct horse battery staple"), Err(WeakSecret::TooShort { .. })));
//! let session = derive_key("4dGv5Zk0b3fP1nQxW9yR2sT7uV8wX6zA0cE3hJ5mL1o", "verge/edge/session-cookie");
//! let login = derive_key("4dGv5Zk0b3fP1nQxW9yR2sT7uV8wX6zA0cE3hJ5mL1o", "verge/edge/login-cookie");
//! assert_ne!(session, login);
//! ```

use hkdf::Hkdf;
use sha2::Sha256;

/// Bytes of key material a secret must carry at least.
pub const MIN_KEY_BYTES: usize = 32;
/// Different characters a secret must use at least.
pub const MIN_DISTINCT: usize = 8;
/// HKDF's salt: fixed, for domain separation from any other use of the same secret (RFC 5869
/// section 3.1 allows a constant salt; the secret is the entropy).
const SALT: &[u8] = b"verge hkdf salt v1";

/// Why a secret was refused. The text never includes the secret, only what the rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakSecret {
    #[error(
        "holds less than 32 bytes of key material: written in {alphabet} it needs at least {need} characters (generate one with `openssl rand -base64 32`)"
    )]
    TooShort { alphabet: &'static str, need: usize },
    #[error("uses fewer than 8 different characters, so it is not random (generate one with `openssl rand -base64 32`)")]
    Repetitive,
}

/// Checks a secret against the rule in the [module docs](self).
///
/// # Errors
/// [`WeakSecret`]: too short for its alphabet, or too repetitive.
pub fn check(secret: &str) -> Result<(), WeakSecret> {
    let text = secret.trim_end_matches('=');
    let b = text.as_bytes();
    let (alphabet, need) = if !b.is_empty() && b.iter().all(u8::is_ascii_hexdigit) {
        ("hex", 64)
    } else if b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_')) {
        ("base64", 43)
    } else if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        ("printable ASCII", 39)
    } else {
        ("arbitrary bytes", MIN_KEY_BYTES)
    };
    if b.len() < need {
        return Err(WeakSecret::TooShort { alphabet, need });
    }
    let mut seen = [false; 256];
    b.iter().for_each(|&c| seen[usize::from(c)] = true);
    if seen.iter().filter(|s| **s).count() < MIN_DISTINCT {
        return Err(WeakSecret::Repetitive);
    }
    Ok(())
}

/// Whether an access key id is one AWS issued (`AKIA...` long-term, `ASIA...` temporary: 20
/// upper-case letters and digits). Their secrets are AWS's to choose and are not checked.
pub fn issued_by_aws(access_key_id: &str) -> bool {
    access_key_id.len() == 20
        && (access_key_id.starts_with("AKIA") || access_key_id.starts_with("ASIA"))
        && access_key_id.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A 32-byte key for one purpose: HKDF-SHA256 with the secret's text as input keying material
/// and `purpose` as `info`.
pub fn derive_key(secret: &str, purpose: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(SALT), secret.as_bytes())
        .expand(purpose.as_bytes(), &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_pass() {
        // What the documented generators print: 32 random bytes as hex, base64, base64url.
        let bytes: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(97).wrapping_add(13)).collect();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex.len(), 64);
        assert_eq!(check(&hex), Ok(()));
        assert_eq!(check("q9Z+/0bF3kLmN7pR2sT5vW8xY1zA4cE6gH9jK2mP5rA="), Ok(()), "openssl rand -base64 32");
        assert_eq!(check("q9Z-_0bF3kLmN7pR2sT5vW8xY1zA4cE6gH9jK2mP5rA"), Ok(()), "secrets.token_urlsafe(32)");
        assert_eq!(check("Kx7!q@2#Lm$9%Pz^4&Rt*6(Wv)8_Yb+0=Nc~3?Hd5"), Ok(()), "39+ printable characters");
    }

    #[test]
    fn short_or_repetitive_secrets_are_refused() {
        let short = |s: &str| matches!(check(s), Err(WeakSecret::TooShort { .. }));
        assert!(short(""));
        assert!(short("secret"));
        assert!(short(&"ab12".repeat(15)), "60 hex characters are 30 bytes");
        assert!(short("q9Z-_0bF3kLmN7pR2sT5vW8xY1zA4cE6gH9jK2mP5r"), "42 base64 characters");
        assert!(short("q9Z-_0bF3kLmN7pR2sT5vW8xY1zA4cE6gH9jK2m=="), "padding does not count");
        assert!(short("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "an AWS-style 40-character secret is 240 bits");
        assert!(short("correct horse battery staple!"), "29 printable characters");
        assert_eq!(check(&"changeme".repeat(8)), Err(WeakSecret::Repetitive));
        assert_eq!(check(&"a".repeat(100)), Err(WeakSecret::Repetitive));
    }

    #[test]
    fn the_error_never_contains_the_secret() {
        let secret = "hunter2-hunter2-hunter2";
        let e = check(secret).unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn aws_key_ids() {
        assert!(issued_by_aws("AKIAIOSFODNN7EXAMPLE"));
        assert!(issued_by_aws("ASIAIOSFODNN7EXAMPLE"));
        assert!(!issued_by_aws("VERGEEDGE0A1B2C3D4E5F"));
        assert!(!issued_by_aws("AKIAshort"));
    }

    #[test]
    fn keys_are_hkdf_sha256_per_purpose() {
        // RFC 5869 test case 1, through the same crate, pins the construction.
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let mut okm = [0u8; 42];
        Hkdf::<Sha256>::new(Some(&salt), &ikm).expand(&info, &mut okm).unwrap();
        assert_eq!(hex::encode(okm), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
        let s = "q9Z-_0bF3kLmN7pR2sT5vW8xY1zA4cE6gH9jK2mP5rA";
        let mut expected = [0u8; 32];
        Hkdf::<Sha256>::new(Some(SALT), s.as_bytes()).expand(b"verge/edge/session-cookie", &mut expected).unwrap();
        assert_eq!(derive_key(s, "verge/edge/session-cookie"), expected);
        assert_ne!(derive_key(s, "verge/edge/session-cookie"), derive_key(s, "verge/edge/login-cookie"));
        assert_ne!(
            derive_key(s, "verge/edge/session-cookie"),
            derive_key("q9Z-_0bF3kLmN7pR2sT5vW8xY1zA4cE6gH9jK2mP5rB", "verge/edge/session-cookie")
        );
    }
}
