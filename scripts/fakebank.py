#!/usr/bin/env python3
"""A local stand-in for the external banking API the origin calls on users' behalf.

It speaks plain HTTP and JSON like the real one: `GET /accounts` and `GET /transactions?cursor=`
with `Authorization: Bearer <personal access token>` (tokens starting `pat_` are valid), and it
fails the way real APIs do when told to. Control endpoints for tests:

    POST /_control {"plan": [{"status": 429, "retry_after": 1}, {"status": 500}, {"delay_ms": 4000}]}
        the next requests take these outcomes in order, then it answers normally again
    GET  /_stats   {"calls": N, "last_authorization": "..."}
    POST /_reset

Usage: fakebank.py HOST PORT
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
STATE = {"plan": [], "calls": 0, "last_authorization": None}

ACCOUNTS = [
    {"id": "acc-1", "name": "Everyday", "iban": "DE89370400440532013000", "balance": {"amount": "1523.40", "currency": "EUR"},
     "owner": {"name": "Dev User", "address": "Somewhere 1"}, "internal_ref": "x-991"},
    {"id": "acc-2", "name": "Savings", "iban": "DE89370400440532013001", "balance": {"amount": "10000.00", "currency": "EUR"},
     "owner": {"name": "Dev User", "address": "Somewhere 1"}, "internal_ref": "x-992"},
]
TRANSACTIONS = [
    {"id": f"tx-{i}", "booked_at": f"2026-11-{i + 1:02d}", "amount": f"-{10 + i}.50", "currency": "EUR",
     "description": f"Purchase {i}", "counterparty_iban": "FR7630006000011234567890189", "mcc": "5411"}
    for i in range(7)
]
PAGE = 3


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            if self.path == "/_control":
                STATE["plan"] = list(body.get("plan", []))
            elif self.path == "/_reset":
                STATE.update(plan=[], calls=0, last_authorization=None)
            else:
                return self.send_json(404, {"error": "not found"})
        self.send_json(200, {"ok": True})

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/_stats":
            with LOCK:
                return self.send_json(200, {"calls": STATE["calls"], "last_authorization": STATE["last_authorization"]})
        with LOCK:
            STATE["calls"] += 1
            STATE["last_authorization"] = self.headers.get("authorization")
            step = STATE["plan"].pop(0) if STATE["plan"] else None
        if step:
            if "delay_ms" in step:
                time.sleep(step["delay_ms"] / 1000)
            if "status" in step:
                headers = [("retry-after", str(step["retry_after"]))] if "retry_after" in step else []
                return self.send_json(step["status"], {"error": "injected"}, headers)
        auth = self.headers.get("authorization", "")
        if not auth.startswith("Bearer pat_"):
            return self.send_json(401, {"error": "invalid token"})
        if url.path == "/accounts":
            return self.send_json(200, {"accounts": ACCOUNTS})
        if url.path == "/transactions":
            cursor = parse_qs(url.query).get("cursor", ["c0"])[0]
            try:
                start = int(cursor.removeprefix("c"))
            except ValueError:
                return self.send_json(400, {"error": "bad cursor"})
            page = TRANSACTIONS[start:start + PAGE]
            nxt = f"c{start + PAGE}" if start + PAGE < len(TRANSACTIONS) else None
            return self.send_json(200, {"transactions": page, "next_cursor": nxt})
        self.send_json(404, {"error": "not found"})


def main():
    server = ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
