#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for storage tests: it sits between the origin and moto and, when
told to, fails, stalls or drops requests, before or after moto has applied them.

    POST /__fault {"mode": "fail", "count": 2, "status": 500}      answer 500 without forwarding
    POST /__fault {"mode": "stall", "count": 1, "ms": 3000}         wait, then forward
    POST /__fault {"mode": "late", "count": 1, "ms": 3000}          forward (moto applies it), answer late
    POST /__fault {"mode": "drop", "count": 1}                      forward, then close without answering
    POST /__fault {"mode": "none"}                                  pass everything through
    GET  /__fault                                                    {"mode": ..., "remaining": N, "seen": N}

Everything else is forwarded unchanged (Host header included, so SigV4 signatures still verify).

It also plays the part of DynamoDB that moto leaves out: TransactWriteItems' ClientRequestToken.
DynamoDB's API reference (TransactWriteItems, ClientRequestToken) says:

    "Providing a ClientRequestToken makes the call to TransactWriteItems idempotent, meaning that
    multiple identical calls have the same effect as one single call. [...] A client request token
    is valid for 10 minutes after the first request that uses it is completed. After 10 minutes,
    any request with the same client token is treated as a new request. [...] If you submit a
    request with the same client token but a change in other parameters within the 10-minute
    idempotency window, DynamoDB returns an IdempotentParameterMismatch exception."

So each token that reached moto is remembered for TOKEN_TTL_S with a hash of its request (every
parameter but the token itself: TransactItems and the rest). Within the window, the same token
with an identical request gets the first success answer again without writing (a first attempt
that failed is simply run again); the same token with a different request gets HTTP 400
IdempotentParameterMismatchException, as from DynamoDB. Requests this proxy fails itself ("fail")
never reached DynamoDB and leave no token behind. `GET /__tokens` lists what is remembered.

Usage: faultproxy.py LISTEN_PORT UPSTREAM_PORT
"""

import hashlib
import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
FAULT = {"mode": "none", "remaining": 0, "status": 500, "ms": 0, "seen": 0}
UPSTREAM = ("127.0.0.1", 0)
# ClientRequestToken -> {"hash", "expires", "answer": (status, headers, body) of a success, or None}
TOKENS = {}
TOKEN_TTL_S = 600
TRANSACT = "DynamoDB_20120810.TransactWriteItems"


def take():
    """The fault for this request, if any."""
    with LOCK:
        FAULT["seen"] += 1
        if FAULT["mode"] == "none" or FAULT["remaining"] <= 0:
            return None
        FAULT["remaining"] -= 1
        return dict(FAULT)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def control(self):
        if self.command == "POST":
            spec = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            with LOCK:
                FAULT.update(mode=spec.get("mode", "none"), remaining=int(spec.get("count", 1 << 30)),
                             status=int(spec.get("status", 500)), ms=int(spec.get("ms", 0)))
        with LOCK:
            body = json.dumps(FAULT).encode()
        self.reply(200, [("content-type", "application/json")], body)

    def forward(self, body):
        conn = http.client.HTTPConnection(*UPSTREAM, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "content-length")}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    def dynamodb(self, body):
        """Forwards to moto, answering TransactWriteItems tokens as DynamoDB does (see the top)."""
        token, digest = None, None
        if self.headers.get("x-amz-target") == TRANSACT:
            try:
                request = json.loads(body)
                token = request.pop("ClientRequestToken", None)
                digest = hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
            except (ValueError, AttributeError):
                token = None
        if token is None:
            return self.forward(body)
        now = time.monotonic()
        with LOCK:
            for t in [t for t, v in TOKENS.items() if v["expires"] <= now]:
                del TOKENS[t]
            seen = TOKENS.get(token)
        if seen and seen["hash"] != digest:
            payload = json.dumps({
                "__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "message": "Request parameters do not match the parameters of the previous request with the same ClientRequestToken",
            }).encode()
            return 400, [("content-type", "application/x-amz-json-1.0")], payload
        if seen and seen["answer"] is not None:
            return seen["answer"]
        status, headers, data = self.forward(body)
        with LOCK:
            TOKENS[token] = {"hash": digest, "expires": time.monotonic() + TOKEN_TTL_S,
                             "answer": (status, headers, data) if status == 200 else None}
        return status, headers, data

    def tokens(self):
        with LOCK:
            body = json.dumps({t: {"hash": v["hash"], "succeeded": v["answer"] is not None} for t, v in TOKENS.items()}).encode()
        self.reply(200, [("content-type", "application/json")], body)

    def handle_any(self):
        if self.path.startswith("/__fault"):
            return self.control()
        if self.path.startswith("/__tokens"):
            return self.tokens()
        body = self.read_body()
        fault = take()
        mode = fault and fault["mode"]
        if mode == "fail":
            payload = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "injected"}).encode()
            return self.reply(fault["status"], [("content-type", "application/x-amz-json-1.0")], payload)
        if mode == "stall":
            time.sleep(fault["ms"] / 1000)
        status, headers, data = self.dynamodb(body)
        if mode == "late":
            time.sleep(fault["ms"] / 1000)
        if mode == "drop":
            self.close_connection = True
            self.connection.close()
            return
        try:
            self.reply(status, headers, data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting: exactly the case being tested

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


def main():
    global UPSTREAM
    UPSTREAM = ("127.0.0.1", int(sys.argv[2]))
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
