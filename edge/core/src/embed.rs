//! Embedding the config file in an edge build: the adapters' build scripts call [`build_script`]
//! so that an invalid config fails the build with the same positioned errors `verge check`
//! prints, and the wasm carries only a config that parsed.

use std::path::{Path, PathBuf};

/// The build-time variable naming the config file to embed (default: `edge/edge.toml`).
pub const CONFIG_ENV: &str = "VERGE_EDGE_CONFIG";

/// For `build.rs`: validates the config and exports its absolute path as
/// `VERGE_EDGE_CONFIG_PATH` for `include_str!`. Exits the build with the errors otherwise.
pub fn build_script(manifest_dir: &str) {
    build_script_checked(manifest_dir, |_, _| Ok(()));
}

/// [`build_script`] for the Workers build: also refuses a `{ secret = "NAME" }` whose NAME is a
/// plain variable in `wrangler_toml`'s `[vars]` (or an `[env.X.vars]`). Workers hands secrets
/// and `[vars]` to the code alike, as strings on `env` (Cloudflare: "to your Worker, there is no
/// difference between an environment variable and a secret"), so the worker cannot tell them
/// apart at run time; the deployment config can, at build time.
pub fn build_script_workers(manifest_dir: &str, wrangler_toml: &Path) {
    println!("cargo:rerun-if-changed={}", wrangler_toml.display());
    build_script_checked(manifest_dir, |config, _| {
        let Ok(src) = std::fs::read_to_string(wrangler_toml) else { return Ok(()) };
        secrets_declared_as_vars(config, &wrangler_toml.display().to_string(), &src)
    });
}

/// Every `{ secret = "NAME" }` of `config` that `wrangler_src` declares as a plain variable, as
/// one error message per name (`file:line:column` of the variable in wrangler.toml).
///
/// # Errors
/// The messages, when there is any such name or wrangler.toml does not parse.
pub fn secrets_declared_as_vars(config: &crate::EdgeConfig, wrangler_file: &str, wrangler_src: &str) -> Result<(), String> {
    use toml::Spanned;
    type Vars = std::collections::BTreeMap<Spanned<String>, toml::Value>;
    #[derive(serde::Deserialize)]
    struct Env {
        vars: Option<Vars>,
    }
    #[derive(serde::Deserialize)]
    struct Wrangler {
        vars: Option<Vars>,
        env: Option<std::collections::BTreeMap<String, Env>>,
    }
    let w: Wrangler = toml::from_str(wrangler_src).map_err(|e| format!("{wrangler_file}: error: {e}"))?;
    let tables = w
        .vars
        .iter()
        .map(|v| ("[vars]".to_owned(), v))
        .chain(w.env.iter().flatten().filter_map(|(name, e)| e.vars.as_ref().map(|v| (format!("[env.{name}.vars]"), v))));
    let secrets = config.secrets();
    let mut errors = Vec::new();
    for (table, vars) in tables {
        for name in vars.keys() {
            if secrets.contains(&name.get_ref().as_str()) {
                let (line, col) = line_col(wrangler_src, name.span().start);
                errors.push(format!(
                    "{wrangler_file}:{line}:{col}: error: {} is declared in {table}, but the edge config reads it as a secret ({{ secret = \"{}\" }})\n  hint: remove it from {table} and set it with `wrangler secret put {}` (locally: .dev.vars); a plain variable is shown in the dashboard and in wrangler.toml",
                    name.get_ref(),
                    name.get_ref(),
                    name.get_ref()
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, col)
}

fn build_script_checked(manifest_dir: &str, extra: impl FnOnce(&crate::EdgeConfig, &Path) -> Result<(), String>) {
    println!("cargo:rerun-if-env-changed={CONFIG_ENV}");
    let default = Path::new(manifest_dir).join("../edge.toml");
    let path: PathBuf = std::env::var_os(CONFIG_ENV).map(PathBuf::from).unwrap_or(default);
    let path = path.canonicalize().unwrap_or(path);
    println!("cargo:rerun-if-changed={}", path.display());
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read edge config {}: {e}", path.display());
            if path.is_relative() {
                eprintln!("  hint: cargo runs this build script in {manifest_dir}: give {CONFIG_ENV} an absolute path");
            }
            std::process::exit(1);
        }
    };
    match crate::EdgeConfig::parse(&path.display().to_string(), &src) {
        Err(errors) => {
            // Cargo shows a failing build script's stderr.
            eprintln!("{errors}");
            std::process::exit(1);
        }
        Ok(config) => {
            if let Err(e) = extra(&config, &path) {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    println!("cargo:rustc-env=VERGE_EDGE_CONFIG_PATH={}", path.display());
    build_info(manifest_dir);
}

/// Exports `VERGE_BUILD_COMMIT` (12 hex digits, `-dirty` with uncommitted changes to tracked
/// files; `unknown` without git) and `VERGE_BUILD_TIME` (now, RFC 3339 UTC) for
/// [`crate::BuildInfo`]. The script reruns when HEAD moves (its reflog changes on every commit
/// and checkout), so the commit is the one built; a build of a dirty tree says so as of the
/// script's last run.
fn build_info(manifest_dir: &str) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(manifest_dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) if git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()) => format!("{c}-dirty"),
        Some(c) => c,
        None => "unknown".to_owned(),
    };
    if let Some(reflog) = git(&["rev-parse", "--path-format=absolute", "--git-path", "logs/HEAD"]) {
        println!("cargo:rerun-if-changed={reflog}");
    }
    #[allow(clippy::disallowed_methods)] // a build script, not the request path
    let now = std::time::SystemTime::now();
    let secs = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let time = time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=VERGE_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=VERGE_BUILD_TIME={time}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[origins.web]
type = "s3"
bucket = "site-bucket"
region = "us-east-1"
credentials = { access_key_id = { env = "KEY_ID" }, secret_access_key = { secret = "WEB_SECRET" } }

[[behaviours]]
path = "*"
origin = "web"
"#;

    #[test]
    fn a_secret_declared_as_a_wrangler_var_is_refused_with_its_position() {
        let config = crate::EdgeConfig::parse("edge.toml", CONFIG).unwrap();
        assert_eq!(config.secrets(), ["WEB_SECRET"]);
        let wrangler = "name = \"x\"\n\n[vars]\nKEY_ID = \"AKIA\"\nWEB_SECRET = \"oops\"\n\n[env.staging.vars]\nWEB_SECRET = \"again\"\n";
        let err = secrets_declared_as_vars(&config, "wrangler.toml", wrangler).unwrap_err();
        assert!(err.contains("wrangler.toml:5:1: error: WEB_SECRET is declared in [vars]"), "{err}");
        assert!(err.contains("wrangler.toml:8:1: error: WEB_SECRET is declared in [env.staging.vars]"), "{err}");
        assert!(err.contains("wrangler secret put WEB_SECRET"), "{err}");
        assert!(!err.contains("oops") && !err.contains("again"), "never the value: {err}");
        // A plain variable for an `{ env = ... }` reference is what [vars] is for.
        assert!(secrets_declared_as_vars(&config, "wrangler.toml", "[vars]\nKEY_ID = \"AKIA\"\n").is_ok());
    }

    #[test]
    fn the_shipped_wrangler_toml_declares_no_secret_of_the_shipped_config() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let config = crate::EdgeConfig::parse("edge.toml", &std::fs::read_to_string(format!("{root}/edge/edge.toml")).unwrap()).unwrap();
        let wrangler = std::fs::read_to_string(format!("{root}/wrangler.toml")).unwrap();
        assert!(config.secrets().contains(&"VERGE_SESSION_SECRET"), "{:?}", config.secrets());
        secrets_declared_as_vars(&config, "wrangler.toml", &wrangler).unwrap();
    }
}
