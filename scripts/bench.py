#!/usr/bin/env python3
"""Benchmarks, printed as figures (never asserted): run by scripts/bench.sh after a release build.

1. Sizes of the three .wasm artifacts, raw and gzip -9, against the targets (Workers build at most
   400 KB gzip; each Spin component at most 1 MB raw).
2. wrk (2 connections, 2 threads, 10 s, loopback) against the local stack under wasmtime, for
   - a static asset through the edge (GET the web app's entry script, assets/index-HASH.js: edge -> S3 on moto),
   - GET /api/stats/daily over 30 days through the edge (edge -> origin -> DynamoDB on moto),
   - the same stats request sent straight to the origin component, signed by `verge sign`,
   in ROUNDS interleaved rounds; each figure is the median over rounds, so the edge's added
   latency is read from numbers taken side by side on the same noisy machine.

Usage: bench.py [--rounds N] [--duration SECONDS]
"""

import argparse
import gzip
import os
import tempfile
import json
import re
import statistics
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devstack import ROOT, Stack  # noqa: E402

ARTIFACTS = [
    ("Workers edge (index_bg.wasm)", ROOT / "edge/workers/build/index_bg.wasm", "gzip", 400 * 1024),
    ("Spin edge component", ROOT / "target/wasm32-wasip2/release/verge_edge_spin.wasm", "raw", 1024 * 1024),
    ("Spin origin component", ROOT / "target/wasm32-wasip2/release/verge_origin_spin.wasm", "raw", 1024 * 1024),
]


def entry_script():
    """The web app's entry script as the built index.html names it (/assets/index-HASH.js)."""
    html = (ROOT / "web/dist/index.html").read_text()
    return re.search(r'<script type="module" crossorigin src="([^"]+)"', html).group(1)


def sizes():
    print("## .wasm sizes\n")
    print("| artifact | raw KB | gzip -9 KB | target | within |")
    print("|---|---:|---:|---|---|")
    for name, path, kind, limit in ARTIFACTS:
        data = path.read_bytes()
        raw, gz = len(data), len(gzip.compress(data, 9))
        measured = gz if kind == "gzip" else raw
        print(f"| {name} | {raw / 1024:.1f} | {gz / 1024:.1f} | <= {limit // 1024} KB {kind} | {'yes' if measured <= limit else 'NO'} |")
    print()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(out):
    def ms(label):
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50": ms("50%"), "p99": ms("99%"),
            "errors": int(non2xx.group(1)) if non2xx else 0}


def wrk(url, duration, headers=(), method="GET", body=None):
    args = ["wrk", "-t2", "-c2", f"-d{duration}s", "--latency"]
    for h in headers:
        args += ["-H", h]
    script = None
    if method != "GET":
        # wrk sends the same signed request each time: a signature stays valid for 5 minutes.
        script = Path(tempfile.mkstemp(suffix=".lua")[1])
        script.write_text(f"wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(body)}\n")
        args += ["-s", str(script)]
    try:
        return parse_wrk(subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout)
    finally:
        if script:
            script.unlink()


def interleaved(cases, rounds, title, decimals=2):
    """Runs each case (a thunk returning wrk figures) once per round, the cases interleaved so that
    noise on this shared machine falls on all of them alike; prints the table of medians under
    `title` and returns the medians by case name."""
    results = {name: [] for name in cases}
    for r in range(rounds):
        for name, run in cases.items():
            results[name].append(run())
            print(f"round {r + 1}: {name}: {json.dumps(results[name][-1])}", file=sys.stderr)
    print(f"## {title}\n")
    print("| case | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|")
    med = {}
    for name, rs in results.items():
        med[name] = {k: statistics.median(x[k] for x in rs) for k in ("rps", "p50", "p99", "errors")}
        m = med[name]
        print(f"| {name} | {m['rps']:.0f} | {m['p50']:.{decimals}f} | {m['p99']:.{decimals}f} | {m['errors']:.0f} |")
    return med


def signed_headers(stack, url, method="GET", body="", extra=()):
    key_id, secret = stack.edge_key
    env = {"VERGE_ORIGIN_ACCESS_KEY_ID": key_id, "VERGE_ORIGIN_SECRET_ACCESS_KEY": secret}
    args = [str(ROOT / "target/release/verge"), "sign", method, url, "--body", body]
    for h in extra:
        args += ["--header", h]
    out = subprocess.run(args, capture_output=True, text=True, check=True, env={**os.environ, **env}).stdout
    return [line for line in out.splitlines() if line] + list(extra)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()
    sizes()

    stack = Stack(quiet=True)
    try:
        stack.start()
        edge, origin = f"http://127.0.0.1:{stack.edge_port}", f"http://127.0.0.1:{stack.origin_port}"
        today = date.today()
        q = f"/api/stats/daily?from={today - timedelta(days=29)}&to={today}"
        # A month of data: one number per day is enough for the aggregate rows to exist.
        for _ in range(3):
            subprocess.run(["curl", "-sf", "-o", "/dev/null", "-X", "POST", "-H", "content-type: application/json",
                            "-d", '{"value": 1.5}', edge + "/api/numbers"], check=True)
        cases = {
            "static asset via edge (GET the app's entry script)": lambda: wrk(edge + entry_script(), args.duration),
            "stats 30 days via edge": lambda: wrk(edge + q, args.duration),
            # Signed fresh each round: a signature is valid for 5 minutes.
            "stats 30 days straight to origin": lambda: wrk(origin + q, args.duration, signed_headers(stack, origin + q)),
        }
        med = interleaved(cases, args.rounds, f"wrk, 2 connections, {args.duration} s, median of {args.rounds} interleaved rounds (Spin host)")
        via, direct = med["stats 30 days via edge"], med["stats 30 days straight to origin"]
        print(f"\nEdge adds {via['p50'] - direct['p50']:.2f} ms at p50 and {via['p99'] - direct['p99']:.2f} ms at p99 "
              f"to the stats call; throughput ratio edge/direct = {via['rps'] / direct['rps']:.2f}.")

        # The origin API against moto: writes and the 30-day read, straight to the origin.
        body = '{"value": 2.5}'
        post_headers = signed_headers(stack, origin + "/api/numbers", "POST", body, ["content-type: application/json", "x-verge-user: bench"])
        stats_headers = signed_headers(stack, origin + q, extra=["x-verge-user: bench"])
        runs = {"POST /api/numbers": [], "GET /api/stats/daily (30 days)": []}
        for r in range(3):
            runs["POST /api/numbers"].append(wrk(origin + "/api/numbers", args.duration, post_headers, "POST", body))
            runs["GET /api/stats/daily (30 days)"].append(wrk(origin + q, args.duration, stats_headers))
            print(f"origin round {r + 1}: {json.dumps({k: v[-1] for k, v in runs.items()})}", file=sys.stderr)
        print(f"\n## origin against moto, wrk 2 connections, {args.duration} s, median of 3 runs\n")
        print("| call | req/s | p50 ms | p99 ms | non-2xx |")
        print("|---|---:|---:|---:|---:|")
        for name, rs in runs.items():
            m = {k: statistics.median(x[k] for x in rs) for k in ("rps", "p50", "p99", "errors")}
            print(f"| {name} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['errors']:.0f} |")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
