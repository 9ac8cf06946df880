//! `verge`: the operators' CLI.
//!
//! ```text
//! verge check [FILE...]     validate edge config files (default: edge/edge.toml)
//! verge sign METHOD URL     print SigV4 headers for a request to the origin (for debugging and
//!                           benchmarks), with the key from VERGE_ORIGIN_ACCESS_KEY_ID and
//!                           VERGE_ORIGIN_SECRET_ACCESS_KEY; the body is read from --body
//! verge purge URL --path P --prefix P
//!                           purge paths or prefixes from an edge's cache (docs/cache.md), with
//!                           the token from VERGE_TOKEN or --token
//! verge explain METHOD URL [-H 'name: value']... [--config FILE]
//!                           what the edge would do with a request, from the config alone
//! ```
//!
//! `check` exits 0 when every file is valid, 1 when any has errors (each printed as
//! `file:line:column: error: message` with a hint), 2 on usage errors. Warnings (what is probably
//! a mistake but valid, such as an issuer that differs from the login's by a trailing slash) go to
//! stderr as `file:line:column: warning: message` and do not change the exit code.

mod explain;
mod purge;

use std::process::ExitCode;
use std::time::SystemTime;

use verge_edge::EdgeConfig;
use verge_signing::{sign, Credentials, Profile, Scope};

const USAGE: &str = "usage:
  verge check [FILE...]                     validate edge config files (default: edge/edge.toml)
  verge sign METHOD URL [--body TEXT] [--header 'name: value']... [--service S] [--region R]
                                            print SigV4 headers for an origin request
  verge purge EDGE_URL [--path /p]... [--prefix /p/]... [--token JWT]
                                            purge an edge's cache (token: VERGE_TOKEN)
  verge explain METHOD URL [-H 'name: value']... [--config FILE]
                                            what the edge would do with a request (default
                                            config: edge/edge.toml)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => check(&args[1..]),
        Some("sign") => sign_cmd(&args[1..]),
        Some("purge") => purge::run(&args[1..], USAGE),
        Some("explain") => explain::run(&args[1..], USAGE),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn check(files: &[String]) -> ExitCode {
    let default = ["edge/edge.toml".to_owned()];
    let files = if files.is_empty() { &default[..] } else { files };
    let mut failed = false;
    for file in files {
        let src = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{file}: error: cannot read: {e}");
                failed = true;
                continue;
            }
        };
        match EdgeConfig::parse(file, &src) {
            Ok(cfg) => {
                println!(
                    "{file}: ok ({} origin{}, {} behaviour{})",
                    cfg.origins.len(),
                    if cfg.origins.len() == 1 { "" } else { "s" },
                    cfg.behaviours.len(),
                    if cfg.behaviours.len() == 1 { "" } else { "s" }
                );
                for w in &cfg.warnings {
                    eprintln!("{}", w.render(file, "warning"));
                }
            }
            Err(errors) => {
                eprintln!("{errors}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

// The CLI is an adapter: it owns the clock.
#[allow(clippy::disallowed_methods)]
fn sign_cmd(args: &[String]) -> ExitCode {
    let (Some(method), Some(url)) = (args.first(), args.get(1)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut body = String::new();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut scope = Scope { region: "us-east-1".into(), service: "execute-api".into() };
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let Some(value) = rest.next() else {
            eprintln!("{flag} needs a value\n{USAGE}");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--body" => body = value.clone(),
            "--header" => match value.split_once(':') {
                Some((k, v)) => headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned())),
                None => {
                    eprintln!("--header takes 'name: value'");
                    return ExitCode::from(2);
                }
            },
            "--service" => scope.service = value.clone(),
            "--region" => scope.region = value.clone(),
            _ => {
                eprintln!("unknown option {flag}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Ok(id), Ok(secret)) = (std::env::var("VERGE_ORIGIN_ACCESS_KEY_ID"), std::env::var("VERGE_ORIGIN_SECRET_ACCESS_KEY")) else {
        eprintln!("set VERGE_ORIGIN_ACCESS_KEY_ID and VERGE_ORIGIN_SECRET_ACCESS_KEY");
        return ExitCode::from(2);
    };
    let mut builder = http::Request::builder().method(method.as_str()).uri(url.as_str());
    for (k, v) in &headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let mut req = match builder.body(body.into_bytes()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("invalid request: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = sign(&mut req, &Credentials::new(id, secret, None), &scope, Profile::Api, SystemTime::now()) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    // The extra headers are the caller's to send; print what signing added.
    for (k, v) in req.headers().iter().filter(|(k, _)| !headers.iter().any(|(h, _)| h == k.as_str())) {
        println!("{}: {}", k, v.to_str().unwrap_or_default());
    }
    ExitCode::SUCCESS
}
