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
//! | `VERGE_TABLE_NUMBERS`             | `verge-numbers`                           |
//! | `VERGE_TABLE_DAILY`               | `verge-daily-stats`                       |
//! | `VERGE_EDGE_ACCESS_KEY_ID`        | required: the key the edge signs with     |
//! | `VERGE_EDGE_SECRET_ACCESS_KEY`    | required                                  |
//! | `VERGE_API_SERVICE`               | `execute-api`                             |
//! | `VERGE_API_REGION`                | `us-east-1`                               |
//! | `VERGE_API_HOST`                  | the request's authority or `Host` header  |
//!
//! `VERGE_API_HOST` is the host (and port) the edge addresses the origin by, which is part of
//! what the edge signs. Set it where the runtime does not pass the authority through
//! (`wasmtime serve` drops it); it also pins verification to that one name.

use verge_signing::{Credentials, Scope};

/// Every variable [`OriginConfig::from_env`] reads.
pub const VARIABLES: [&str; 12] = [
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
}

#[derive(Debug, Clone)]
pub struct OriginConfig {
    pub dynamo_endpoint: String,
    pub dynamo_region: String,
    pub dynamo_credentials: Credentials,
    pub tables: Tables,
    pub edge_credentials: Credentials,
    pub api_scope: Scope,
    pub api_host: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, &'static str),
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
        Ok(OriginConfig {
            dynamo_credentials: Credentials::new(
                required("VERGE_DDB_ACCESS_KEY_ID")?,
                required("VERGE_DDB_SECRET_ACCESS_KEY")?,
                get("VERGE_DDB_SESSION_TOKEN"),
            ),
            dynamo_endpoint: endpoint,
            dynamo_region: region,
            tables: Tables {
                numbers: get("VERGE_TABLE_NUMBERS").unwrap_or_else(|| "verge-numbers".into()),
                daily: get("VERGE_TABLE_DAILY").unwrap_or_else(|| "verge-daily-stats".into()),
            },
            edge_credentials: Credentials::new(required("VERGE_EDGE_ACCESS_KEY_ID")?, required("VERGE_EDGE_SECRET_ACCESS_KEY")?, None),
            api_scope: Scope {
                service: get("VERGE_API_SERVICE").unwrap_or_else(|| "execute-api".into()),
                region: get("VERGE_API_REGION").unwrap_or_else(|| "us-east-1".into()),
            },
            api_host: get("VERGE_API_HOST"),
        })
    }
}
