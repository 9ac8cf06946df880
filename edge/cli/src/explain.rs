//! `verge explain METHOD URL [-H 'name: value']... [--config FILE]`: what the edge would do with
//! a request, from the config file alone (`verge_edge::explain` makes the sections; this prints
//! them). Exit 0 with the explanation, 1 when the config is invalid (positioned errors), 2 on
//! usage errors.

use std::process::ExitCode;

use verge_edge::EdgeConfig;

pub fn run(args: &[String], usage: &str) -> ExitCode {
    let usage_error = |why: &str| {
        eprintln!("{why}\n{usage}");
        ExitCode::from(2)
    };
    let mut config = "edge/edge.toml".to_owned();
    let mut positional = Vec::new();
    let mut headers = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-H" | "--header" | "--config" => {
                let Some(value) = rest.next() else { return usage_error(&format!("{arg} needs a value")) };
                if arg == "--config" {
                    config = value.clone();
                } else {
                    match value.split_once(':') {
                        Some((k, v)) => headers.push((k.trim().to_owned(), v.trim().to_owned())),
                        None => return usage_error("-H takes 'name: value'"),
                    }
                }
            }
            flag if flag.starts_with('-') && flag.len() > 1 => return usage_error(&format!("unknown option {flag}")),
            _ => positional.push(arg.clone()),
        }
    }
    let [method, url] = positional.as_slice() else { return usage_error("explain takes METHOD and URL") };
    let mut builder = http::Request::builder().method(method.to_ascii_uppercase().as_str()).uri(url.as_str());
    for (k, v) in &headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let req = match builder.body(()) {
        Ok(r) => r,
        Err(e) => return usage_error(&format!("not a request: {e}")),
    };
    let src = match std::fs::read_to_string(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{config}: error: cannot read: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cfg = match EdgeConfig::parse(&config, &src) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    for s in verge_edge::explain::explain(&cfg, &req) {
        print!("{s}");
    }
    ExitCode::SUCCESS
}
