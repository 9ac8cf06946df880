//! `verge purge`: asks an edge to purge paths or prefixes from its cache
//! (`POST /.verge/purge`, docs/cache.md).
//!
//! ```text
//! VERGE_TOKEN=$(get-an-admin-token) verge purge https://edge.example.com --prefix /assets/ --path /index.html
//! ```
//!
//! The token is a JWT the edge's `[purge]` rule accepts (the shipped config: the `main`
//! provider with the `admin` scope); it is read from `--token` or `VERGE_TOKEN` and never
//! printed. One blocking HTTP/1.1 request, over TLS (rustls with the webpki roots) for `https`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(args: &[String], usage: &str) -> ExitCode {
    let Some(base) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let (mut paths, mut prefixes, mut token) = (Vec::new(), Vec::new(), std::env::var("VERGE_TOKEN").ok());
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let Some(value) = rest.next() else {
            eprintln!("{flag} needs a value\n{usage}");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--path" => paths.push(value.clone()),
            "--prefix" => prefixes.push(value.clone()),
            "--token" => token = Some(value.clone()),
            _ => {
                eprintln!("unknown option {flag}\n{usage}");
                return ExitCode::from(2);
            }
        }
    }
    if paths.is_empty() && prefixes.is_empty() {
        eprintln!("name at least one --path or --prefix\n{usage}");
        return ExitCode::from(2);
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        eprintln!("set VERGE_TOKEN (or --token) to a token the edge's [purge] auth rule accepts");
        return ExitCode::from(2);
    };
    let body = serde_json::json!({ "paths": paths, "prefixes": prefixes }).to_string();
    match post(base, &token, &body) {
        Ok((status, text)) => {
            println!("{status}\n{text}");
            if (200..300).contains(&status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("purge failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `POST {base}/.verge/purge`; returns the status and the body.
fn post(base: &str, token: &str, body: &str) -> Result<(u16, String), String> {
    let uri: http::Uri = base.parse().map_err(|e| format!("{base}: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{base}: use an http:// or https:// URL")),
    };
    let host = uri.host().ok_or_else(|| format!("{base}: no host"))?.trim_matches(['[', ']']).to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let prefix = uri.path().trim_end_matches('/');
    let request = format!(
        "POST {prefix}/.verge/purge HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: verge-cli\r\n\r\n{body}",
        body.len()
    );
    let tcp = TcpStream::connect((host.as_str(), port)).map_err(|e| format!("connect {host}:{port}: {e}"))?;
    tcp.set_read_timeout(Some(TIMEOUT)).and_then(|()| tcp.set_write_timeout(Some(TIMEOUT))).map_err(|e| e.to_string())?;
    let raw = if tls {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        exchange(rustls::StreamOwned::new(conn, tcp), &request)?
    } else {
        exchange(tcp, &request)?
    };
    parse_response(&raw)
}

fn exchange(mut stream: impl Read + Write, request: &str) -> Result<Vec<u8>, String> {
    stream.write_all(request.as_bytes()).map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    // A TLS peer that closes without close_notify still sent the whole (Connection: close) answer.
    match stream.read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => Ok(raw),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// Status and body of an HTTP/1.1 response (with `Content-Length` or chunked).
fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no response head")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or("no status in the response")?;
    let mut body = raw[split + 4..].to_vec();
    if head.lines().any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")) {
        body = dechunk(&body);
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        let start = eol + 2;
        if size == 0 || start + size > data.len() {
            break;
        }
        out.extend_from_slice(&data[start..start + size]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap(), (401, "{}".to_owned()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (200, "abcde".to_owned()));
        assert!(parse_response(b"garbage").is_err());
    }
}
