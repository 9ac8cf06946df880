//! What compressing an answer costs, natively: gzip (and brotli, when built with it) of the web
//! app's own files and of a 77 KB JSON answer, at the levels the edge uses. Prints the median
//! time per answer and the compressed size; run with
//! `cargo run --release -p verge-edge --features compression --example compress_cost`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // a benchmark reads the clock

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response};

fn median_us(mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..31)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let json: String =
        (0..1500).map(|i| format!("{{\"day\":\"2026-11-{:02}\",\"count\":{i},\"label\":\"numbers\"}},", i % 30 + 1)).collect();
    let samples: Vec<(&str, &str, Vec<u8>)> = vec![
        ("web/index.html", "text/html", std::fs::read(format!("{root}/web/index.html")).unwrap()),
        ("web/src/style.css", "text/css", std::fs::read(format!("{root}/web/src/style.css")).unwrap()),
        ("77 KB JSON", "application/json", format!("[{}]", json.trim_end_matches(',')).into_bytes()),
    ];
    println!("| answer | bytes | coding | compressed bytes | median µs |");
    println!("|---|---|---|---|---|");
    for (name, ctype, body) in &samples {
        for coding in ["gzip", "br"] {
            let mut accept = HeaderMap::new();
            accept.insert("accept-encoding", HeaderValue::from_static(coding));
            let make = || Response::builder().header("content-type", *ctype).body(Bytes::from(body.clone())).unwrap();
            let mut out = make();
            verge_edge::compress::compress(&Method::GET, &accept, &mut out);
            let Some(got) = out.headers().get("content-encoding") else {
                println!("| {name} | {} | {coding} | (not in this build, or below 1 KB) | |", body.len());
                continue;
            };
            assert_eq!(got, coding);
            let us = median_us(|| {
                let mut r = make();
                verge_edge::compress::compress(&Method::GET, &accept, &mut r);
            });
            println!("| {name} | {} | {coding} | {} | {us:.0} |", body.len(), out.body().len());
        }
    }
}
