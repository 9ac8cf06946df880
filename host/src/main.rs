//! `verge-spin`: runs a Spin app from its `spin.toml` the way `spin up` does, for machines
//! where the Spin CLI is not available. See docs/spin-host.md for what it covers of Spin.
//!
//! ```text
//! verge-spin up [-f spin.toml] [--listen 127.0.0.1:3000] [--variable name=value]...
//!               [--log-dir DIR] [--state-dir DIR] [--max-instance-reuse-count N] ...
//! verge-spin check [-f spin.toml] [--variable name=value]...
//! ```

mod app;
mod bindings;
mod kv;
mod logs;
mod outbound;
mod redis;
mod server;
mod state;
mod variables;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "verge-spin", about = "Run a Spin app (spin.toml, manifest v2) on wasmtime, as `spin up` does")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ManifestArgs {
    /// The application manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    manifest: PathBuf,
    /// Set an application variable (`name=value`); takes precedence over SPIN_VARIABLE_NAME.
    #[arg(long = "variable", value_parser = parse_variable)]
    variables: Vec<(String, String)>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app.
    Up {
        #[command(flatten)]
        manifest: ManifestArgs,
        /// Address to listen on (port 0 picks a free one; the address is printed).
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Also write each component's stdout and stderr to DIR/<component>_stdout.txt and _stderr.txt.
        #[arg(long)]
        log_dir: Option<PathBuf>,
        /// Where the key-value store's SQLite file lives (default: `.spin` beside the manifest, as Spin).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Requests one instance serves before it is dropped (1: a fresh instance per request).
        #[arg(long, default_value_t = 128)]
        max_instance_reuse_count: usize,
        /// Requests one instance serves at the same time.
        #[arg(long, default_value_t = 16)]
        max_instance_concurrent_reuse_count: usize,
        /// How long an idle instance is kept for reuse (e.g. 1s, 500ms).
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        idle_instance_timeout: Duration,
        /// A request whose response does not start within this time fails with 500.
        #[arg(long, value_parser = parse_duration)]
        request_timeout: Option<Duration>,
        /// Linear memory one instance may grow to, in MiB.
        #[arg(long, default_value_t = 256)]
        max_memory_mib: usize,
        /// Request bodies over this many bytes are refused with 413.
        #[arg(long, default_value_t = 10 * 1024 * 1024)]
        max_request_body_bytes: u64,
        /// Append one JSON line per dropped instance to FILE: component, instance number and
        /// the peak linear memory it grew to (for memory benchmarks).
        #[arg(long, value_name = "FILE")]
        instance_memory_log: Option<PathBuf>,
    },
    /// Load and validate the manifest and compile and link every component, then exit.
    Check {
        #[command(flatten)]
        manifest: ManifestArgs,
    },
}

fn parse_variable(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected name=value, got {s:?}"))?;
    Ok((k.to_owned(), v.to_owned()))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit() && c != '.').map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "m" => n * 60.0,
        _ => return Err(format!("invalid duration unit in {s:?} (use s, ms, us or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn load(args: &ManifestArgs) -> anyhow::Result<verge_spin_manifest::App> {
    let vars = verge_spin_manifest::VariableInputs::from_process(args.variables.clone());
    verge_spin_manifest::load(&args.manifest, &vars).map_err(|e| anyhow::anyhow!("{e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Check { manifest } => {
            let app = load(&manifest)?;
            let dir = std::env::temp_dir().join(format!("verge-spin-check-{}", std::process::id()));
            let settings = app::Settings {
                max_instance_reuse_count: 1,
                max_instance_concurrent_reuse_count: 1,
                idle_instance_timeout: Duration::from_secs(1),
                request_timeout: None,
                max_memory_bytes: 256 * 1024 * 1024,
                max_request_body_bytes: 0,
                log_dir: None,
                instance_memory_log: None,
                state_dir: dir.clone(),
            };
            let n = app.components.len();
            let started = app::AppRuntime::start(app, settings);
            let _ = std::fs::remove_dir_all(&dir);
            started?;
            println!("{}: ok ({n} components)", manifest.manifest.display());
            Ok(())
        }
        Command::Up {
            manifest,
            listen,
            log_dir,
            state_dir,
            max_instance_reuse_count,
            max_instance_concurrent_reuse_count,
            idle_instance_timeout,
            request_timeout,
            max_memory_mib,
            max_request_body_bytes,
            instance_memory_log,
        } => {
            let app = load(&manifest)?;
            let base = manifest.manifest.parent().map(PathBuf::from).unwrap_or_default();
            let settings = app::Settings {
                max_instance_reuse_count: max_instance_reuse_count.max(1),
                max_instance_concurrent_reuse_count: max_instance_concurrent_reuse_count.max(1),
                idle_instance_timeout,
                request_timeout,
                max_memory_bytes: max_memory_mib.saturating_mul(1024 * 1024),
                max_request_body_bytes,
                log_dir,
                instance_memory_log,
                state_dir: state_dir.unwrap_or_else(|| base.join(".spin")),
            };
            let routes: Vec<String> =
                app.router.routes().map(|(route, component)| format!("{component}: http://{{addr}}{route}")).collect();
            let runtime = app::AppRuntime::start(app, settings)?;
            let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
            let addr = listener.local_addr()?;
            println!("Serving http://{addr}");
            println!("Available Routes:");
            for r in routes {
                println!("  {}", r.replace("{addr}", &addr.to_string()));
            }
            tokio::select! {
                r = server::serve(runtime, listener) => r,
                _ = tokio::signal::ctrl_c() => Ok(()),
                _ = terminate() => Ok(()),
            }
        }
    }
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_variable};
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn variables() {
        assert_eq!(parse_variable("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_variable("novalue").is_err());
    }
}
