//! Origins with their references resolved: the startup step between a validated config and a
//! running edge. Missing environment variables or secrets are reported by name (never value).

use std::time::Duration;

use http::uri::{Authority, Scheme};
use verge_signing::{Credentials, Scope};

use crate::config::{EdgeConfig, OriginKind, Reference, Setting};

/// A base URL split into the parts requests are built from.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    pub scheme: Scheme,
    pub authority: Authority,
    /// Path prefix without a trailing slash ("" or "/prod").
    pub prefix: String,
}

impl BaseUrl {
    fn parse(s: &str) -> Option<Self> {
        let uri: http::Uri = s.parse().ok()?;
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Some(BaseUrl { scheme: uri.scheme()?.clone(), authority: uri.authority()?.clone(), prefix })
    }

    /// `scheme://authority{prefix}{encoded_path}[?query]`.
    pub fn join(&self, encoded_path: &str, query: Option<&str>) -> String {
        let mut s = format!("{}://{}{}{}", self.scheme, self.authority, self.prefix, encoded_path);
        if let Some(q) = query {
            s.push('?');
            s.push_str(q);
        }
        s
    }
}

#[derive(Debug, Clone)]
pub enum Target {
    /// `path_style`: `{base}/{bucket}/{key}` (local servers); otherwise `{base}/{key}` with the
    /// bucket in the host name.
    S3 {
        base: BaseUrl,
        bucket: String,
        path_style: bool,
    },
    Http {
        base: BaseUrl,
    },
}

#[derive(Debug, Clone)]
pub struct ResolvedOrigin {
    pub name: String,
    pub target: Target,
    pub scope: Scope,
    pub credentials: Credentials,
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

/// Why the edge cannot start with this config in this environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartupError {
    #[error("origin {origin}: {kind} {name} is not set")]
    Missing { origin: String, kind: &'static str, name: String },
    #[error("origin {origin}: environment variable {name} is not a usable base URL")]
    BadUrl { origin: String, name: String },
    #[error("{setting} ({kind} {name}) is too weak: it {why}")]
    Weak { setting: String, kind: &'static str, name: String, why: verge_signing::secret::WeakSecret },
    /// RFC 8725 3.12, once `{ env = ... }` values are known ([`crate::config::token_kinds`]).
    #[error(
        "[auth.jwt.{provider}] would accept the login's ID tokens as access tokens: its issuer equals [auth.oidc] issuer ({issuer}) and an audience equals [auth.oidc] client_id ({client_id}); name the API's own audience, or set typ = \"at+jwt\" if the issuer types its access tokens (RFC 9068)"
    )]
    IdTokensAccepted { provider: String, issuer: String, client_id: String },
}

/// Looks up a reference; adapters read `Reference::Env` from the environment and
/// `Reference::Secret` from the platform's secret store.
pub type Lookup<'a> = &'a dyn Fn(&Reference) -> Option<String>;

pub(crate) fn resolve(cfg: &EdgeConfig, lookup: Lookup<'_>) -> Result<Vec<ResolvedOrigin>, StartupError> {
    cfg.origins
        .iter()
        .map(|o| {
            let get = |r: &Reference| {
                lookup(r).ok_or_else(|| StartupError::Missing {
                    origin: o.name.clone(),
                    kind: match r {
                        Reference::Env(_) => "environment variable",
                        Reference::Secret(_) => "secret",
                    },
                    name: r.name().to_owned(),
                })
            };
            let setting = |s: &Setting| -> Result<BaseUrl, StartupError> {
                let (value, name) = match s {
                    Setting::Literal(v) => (v.clone(), "(literal)".to_owned()),
                    Setting::Env { name, default } => match lookup(&Reference::Env(name.clone())).or_else(|| default.clone()) {
                        Some(v) => (v, name.clone()),
                        None => {
                            return Err(StartupError::Missing { origin: o.name.clone(), kind: "environment variable", name: name.clone() })
                        }
                    },
                };
                BaseUrl::parse(&value)
                    .filter(|_| crate::config::check_base_url(&value).is_ok())
                    .ok_or(StartupError::BadUrl { origin: o.name.clone(), name })
            };
            let credentials = Credentials::new(
                get(&o.credentials.access_key_id)?,
                get(&o.credentials.secret_access_key)?,
                o.credentials.session_token.as_ref().map(get).transpose()?,
            );
            let (target, scope) = match &o.kind {
                OriginKind::S3 { bucket, region, endpoint } => {
                    let scope = Scope { region: region.clone(), service: "s3".into() };
                    match endpoint {
                        Some(e) => (Target::S3 { base: setting(e)?, bucket: bucket.clone(), path_style: true }, scope),
                        None => {
                            let base = BaseUrl::parse(&format!("https://{bucket}.s3.{region}.amazonaws.com"))
                                .ok_or(StartupError::BadUrl { origin: o.name.clone(), name: "bucket".into() })?;
                            (Target::S3 { base, bucket: bucket.clone(), path_style: false }, scope)
                        }
                    }
                }
                OriginKind::Http { url, service, region } => {
                    // The edge -> origin secret is Verge's own; keys AWS issued are AWS's to choose.
                    if !verge_signing::secret::issued_by_aws(&credentials.access_key_id) && credentials.session_token.is_none() {
                        let setting = format!("[origins.{}] credentials.secret_access_key", o.name);
                        crate::auth::strong_secret(&setting, &o.credentials.secret_access_key, get(&o.credentials.secret_access_key)?)?;
                    }
                    (Target::Http { base: setting(url)? }, Scope { region: region.clone(), service: service.clone() })
                }
            };
            Ok(ResolvedOrigin { name: o.name.clone(), target, scope, credentials, timeout: o.timeout, connect_timeout: o.connect_timeout })
        })
        .collect()
}
