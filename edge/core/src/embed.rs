//! Embedding the config file in an edge build: the adapters' build scripts call [`build_script`]
//! so that an invalid config fails the build with the same positioned errors `verge check`
//! prints, and the wasm carries only a config that parsed.

use std::path::{Path, PathBuf};

/// The build-time variable naming the config file to embed (default: `edge/edge.toml`).
pub const CONFIG_ENV: &str = "VERGE_EDGE_CONFIG";

/// For `build.rs`: validates the config and exports its absolute path as
/// `VERGE_EDGE_CONFIG_PATH` for `include_str!`. Exits the build with the errors otherwise.
pub fn build_script(manifest_dir: &str) {
    println!("cargo:rerun-if-env-changed={CONFIG_ENV}");
    let default = Path::new(manifest_dir).join("../edge.toml");
    let path: PathBuf = std::env::var_os(CONFIG_ENV).map(PathBuf::from).unwrap_or(default);
    let path = path.canonicalize().unwrap_or(path);
    println!("cargo:rerun-if-changed={}", path.display());
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read edge config {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    if let Err(errors) = crate::EdgeConfig::parse(&path.display().to_string(), &src) {
        // Cargo shows a failing build script's stderr.
        eprintln!("{errors}");
        std::process::exit(1);
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
