//! The origin's settings, read once from the environment (Spin `environment`/variables,
//! `wasmtime serve --env`). Secrets are only ever read, never printed: `Debug` redacts them.
//!
//! | variable                          | default                                   |
//! |-----------------------------------|-------------------------------------------|
//! | `VERGE_DDB_ENDPOINT`              | `https://dynamodb.{region}.amazonaws.com` |
//! | `VERGE_DDB_REGION`                | `us-east-1`                               |
//! | `VERGE_DDB_ACCESS_KEY_ID`         | required                                  |
//! | `VERGE_DDB_SECRET_ACCESS_KEY`     | required                                  |
//! | `VERGE_DDB_SESSION_TOKEN`         | none                                      |
//! | `VERGE_DDB_TIMEOUT_MS`            | `5000` per request                        |
//! | `VERGE_TABLE_NUMBERS`             | `verge-numbers`                           |
//! | `VERGE_TABLE_DAILY`               | `verge-daily-stats`                       |
//! | `VERGE_TABLE_ORDERS`              | `verge-orders`                            |
//! | `VERGE_TABLE_ORDER_ERRORS`        | `verge-order-errors`                      |
//! | `VERGE_TABLE_API_KEYS`            | `verge-api-keys`                          |
//! | `VERGE_CURSOR_KEY`                | derived from the edge secret (HKDF)       |
//! | `VERGE_TABLE_VAULT`               | `verge-vault`                             |
//! | `VERGE_VAULT_KEYS`                | `id:base64key,...` (32-byte master keys)  |
//! | `VERGE_VAULT_ACTIVE_KEY`          | the id new items are sealed with          |
//! | `VERGE_BANK_API_URL`              | the banking API's base URL                |
//! | `VERGE_BANK_TIMEOUT_MS`           | `3000`                                    |
//! | `VERGE_BANK_BREAKER_FAILURES`     | `5` failed calls in a row open it         |
//! | `VERGE_BANK_BREAKER_COOLDOWN_MS`  | `30000` before one probe is let through   |
//! | `VERGE_EDGE_ACCESS_KEY_ID`        | required: the key the edge signs with     |
//! | `VERGE_EDGE_SECRET_ACCESS_KEY`    | required, 32 bytes of key material        |
//! | `VERGE_API_SERVICE`               | `execute-api`                             |
//! | `VERGE_API_REGION`                | `us-east-1`                               |
//! | `VERGE_API_HOST`                  | the request's authority or `Host` header  |
//!
//! `VERGE_EDGE_SECRET_ACCESS_KEY` is a secret Verge's edge and origin share, so it is held to
//! `verge_signing::secret`'s rule (at least 32 bytes of key material: 43 base64 or 64 hex
//! characters, e.g. `openssl rand -base64 32`); a weaker one stops the origin at start with
//! [`ConfigError::Weak`] naming the variable. The DynamoDB keys are AWS's to choose and are not
//! checked.
//!
//! `VERGE_API_HOST` is the host (and port) the edge addresses the origin by, which is part of
//! what the edge signs. Set it where the runtime does not pass the authority through
//! (`wasmtime serve` drops it); it also pins verification to that one name.

use verge_signing::{Credentials, Scope};

/// Every variable [`OriginConfig::from_env`] reads.
pub const VARIABLES: [&str; 24] = [
    "VERGE_DDB_TIMEOUT_MS",
    "VERGE_TABLE_VAULT",
    "VERGE_VAULT_KEYS",
    "VERGE_VAULT_ACTIVE_KEY",
    "VERGE_BANK_API_URL",
    "VERGE_BANK_TIMEOUT_MS",
    "VERGE_BANK_BREAKER_FAILURES",
    "VERGE_BANK_BREAKER_COOLDOWN_MS",
    "VERGE_TABLE_ORDERS",
    "VERGE_TABLE_ORDER_ERRORS",
    "VERGE_TABLE_API_KEYS",
    "VERGE_CURSOR_KEY",
    "VERGE_DDB_ENDPOINT",
    "VERGE_DDB_REGION",
    "VERGE_DDB_ACCESS_KEY_ID",
    "VERGE_DDB_SECRET_ACCESS_KEY",
    "VERGE_DDB_SESSION_TOKEN",
    "VERGE_TABLE_NUMBERS",
    "VERGE_TABLE_DAILY",
    "VERGE_EDGE_ACCESS_KEY_ID",
    "VERGE_EDGE_SECRET_ACCESS_KEY",
    "VERGE_API_SERVICE",
    "VERGE_API_REGION",
    "VERGE_API_HOST",
];

#[derive(Debug, Clone)]
pub struct Tables {
    pub numbers: String,
    pub daily: String,
    pub orders: String,
    pub order_errors: String,
    pub api_keys: String,
    pub vault: String,
}

#[derive(Debug, Clone)]
pub struct OriginConfig {
    pub dynamo_endpoint: String,
    pub dynamo_region: String,
    pub dynamo_credentials: Credentials,
    pub dynamo_timeout: std::time::Duration,
    pub tables: Tables,
    pub edge_credentials: Credentials,
    pub api_scope: Scope,
    pub api_host: Option<String>,
    /// Key for pagination cursors' MACs (`VERGE_CURSOR_KEY`); when unset, derived from the
    /// edge secret with HMAC so that one secret suffices.
    pub cursor_key: crate::cursor::CursorKey,
    /// Master keys for the token vault; `None` when not configured (vault routes answer 503).
    pub vault: Option<crate::vault::MasterKeys>,
    pub bank: Option<crate::bank::BankConfig>,
    pub breaker_failures: u32,
    pub breaker_cooldown: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, &'static str),
    #[error("environment variable {0} is too weak: it {1}")]
    Weak(&'static str, verge_signing::secret::WeakSecret),
}

fn number(get: &dyn Fn(&str) -> Option<String>, name: &'static str, default: u64, max: u64) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => {
            v.parse::<u64>().ok().filter(|n| (1..=max).contains(n)).ok_or(ConfigError::Invalid(name, "must be a whole number in range"))
        }
    }
}

impl OriginConfig {
    /// # Errors
    /// The first missing or invalid variable, by name.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let required = |k: &'static str| get(k).ok_or(ConfigError::Missing(k));
        let region = get("VERGE_DDB_REGION").unwrap_or_else(|| "us-east-1".into());
        let endpoint = get("VERGE_DDB_ENDPOINT").unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"));
        match endpoint.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {}
            _ => return Err(ConfigError::Invalid("VERGE_DDB_ENDPOINT", "must be an http(s) URL")),
        }
        let edge_secret = required("VERGE_EDGE_SECRET_ACCESS_KEY")?;
        verge_signing::secret::check(&edge_secret).map_err(|why| ConfigError::Weak("VERGE_EDGE_SECRET_ACCESS_KEY", why))?;
        let cursor_key = match get("VERGE_CURSOR_KEY") {
            Some(k) if k.len() >= 32 => crate::cursor::CursorKey::new(k.as_bytes()),
            Some(_) => return Err(ConfigError::Invalid("VERGE_CURSOR_KEY", "must be at least 32 characters")),
            // Its own key, not the signing secret: HKDF with a label no other use shares. Cursors
            // minted under the earlier HMAC derivation stop validating (400; start from page one).
            None => crate::cursor::CursorKey::new(&verge_signing::secret::derive_key(&edge_secret, "verge/origin/cursor-key")),
        };
        Ok(OriginConfig {
            cursor_key,
            dynamo_credentials: Credentials::new(
                required("VERGE_DDB_ACCESS_KEY_ID")?,
                required("VERGE_DDB_SECRET_ACCESS_KEY")?,
                get("VERGE_DDB_SESSION_TOKEN"),
            ),
            dynamo_endpoint: endpoint,
            dynamo_timeout: std::time::Duration::from_millis(number(&get, "VERGE_DDB_TIMEOUT_MS", 5000, 60_000)?),
            dynamo_region: region,
            tables: Tables {
                numbers: get("VERGE_TABLE_NUMBERS").unwrap_or_else(|| "verge-numbers".into()),
                daily: get("VERGE_TABLE_DAILY").unwrap_or_else(|| "verge-daily-stats".into()),
                orders: get("VERGE_TABLE_ORDERS").unwrap_or_else(|| "verge-orders".into()),
                order_errors: get("VERGE_TABLE_ORDER_ERRORS").unwrap_or_else(|| "verge-order-errors".into()),
                api_keys: get("VERGE_TABLE_API_KEYS").unwrap_or_else(|| "verge-api-keys".into()),
                vault: get("VERGE_TABLE_VAULT").unwrap_or_else(|| "verge-vault".into()),
            },
            vault: match get("VERGE_VAULT_KEYS") {
                None => None,
                Some(spec) => {
                    let active = get("VERGE_VAULT_ACTIVE_KEY").ok_or(ConfigError::Missing("VERGE_VAULT_ACTIVE_KEY"))?;
                    Some(crate::vault::MasterKeys::parse(&spec, &active).map_err(|why| ConfigError::Invalid("VERGE_VAULT_KEYS", why))?)
                }
            },
            bank: match get("VERGE_BANK_API_URL") {
                None => None,
                Some(url) => {
                    if !matches!(url.parse::<http::Uri>(), Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
                    {
                        return Err(ConfigError::Invalid("VERGE_BANK_API_URL", "must be an http(s) URL"));
                    }
                    Some(crate::bank::BankConfig {
                        base_url: url.trim_end_matches('/').to_owned(),
                        timeout: std::time::Duration::from_millis(number(&get, "VERGE_BANK_TIMEOUT_MS", 3000, 60_000)?),
                    })
                }
            },
            breaker_failures: number(&get, "VERGE_BANK_BREAKER_FAILURES", 5, 1000)? as u32,
            breaker_cooldown: std::time::Duration::from_millis(number(&get, "VERGE_BANK_BREAKER_COOLDOWN_MS", 30_000, 3_600_000)?),
            edge_credentials: Credentials::new(required("VERGE_EDGE_ACCESS_KEY_ID")?, edge_secret, None),
            api_scope: Scope {
                service: get("VERGE_API_SERVICE").unwrap_or_else(|| "execute-api".into()),
                region: get("VERGE_API_REGION").unwrap_or_else(|| "us-east-1".into()),
            },
            api_host: get("VERGE_API_HOST"),
        })
    }
}
