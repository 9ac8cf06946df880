//! What parsing and checking the edge config costs, natively: the shipped `edge/edge.toml`
//! (what `verge check` and every Spin instance start pay) and the same file with a syntax error
//! on every `key = value` line (a file with hundreds of errors, as the `config` fuzz target
//! mostly sees), in interleaved rounds. Prints medians; run with
//! `cargo run --release --example config_cost`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // a benchmark reads the clock

use std::time::Instant;

use verge_edge::EdgeConfig;

fn main() {
    let shipped = include_str!("../../edge.toml");
    let broken: String = shipped.lines().map(|l| l.replacen(" = ", " = = ", 1) + "\n").collect();
    let errors = EdgeConfig::parse("broken.toml", &broken).map(|_| 0).unwrap_or_else(|e| e.errors.len());
    assert!(EdgeConfig::parse("edge.toml", shipped).is_ok());
    let cases = [
        (format!("edge/edge.toml ({} bytes, valid)", shipped.len()), shipped.to_owned()),
        (format!("edge/edge.toml with {errors} errors, rendered"), broken),
    ];
    let n = 200;
    let mut samples = vec![Vec::new(); cases.len()];
    for round in 0..11 {
        for (i, (_, src)) in cases.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..n {
                match EdgeConfig::parse("edge.toml", src) {
                    Ok(cfg) => std::hint::black_box(cfg.behaviours.len()),
                    Err(e) => std::hint::black_box(e.to_string().len()),
                };
            }
            if round > 0 {
                samples[i].push(t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
            }
        }
    }
    for ((name, _), s) in cases.iter().zip(&mut samples) {
        s.sort_by(f64::total_cmp);
        println!("{name}: median {:.0} µs per parse (native, 10 interleaved rounds of {n})", s[s.len() / 2]);
    }
}
