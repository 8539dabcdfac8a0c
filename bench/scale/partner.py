"""The scale scenario's partner endpoint: a local HTTP receiver (as the e2e tests use) that logs the
wall-clock time each webhook arrived and the footprint it carries, one JSON line per delivery. The
signature is the publisher's business and tested elsewhere; here only the arrival time counts."""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 4 * 1024 * 1024


def footprint_id(payload: object) -> str:
    """The PACT footprint id a webhook carries (`data.id`, or the first of `data.pfIds`); '' if none."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict):
        if isinstance(data.get("id"), str):
            return data["id"]
        ids = data.get("pfIds")
        if isinstance(ids, list) and ids and isinstance(ids[0], str):
            return ids[0]
    return ""


def serve(port: int, log_file: pathlib.Path) -> None:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.time()
            length = int(self.headers.get("content-length") or 0)
            if not 0 < length <= MAX_BODY:
                self.send_response(413 if length else 400)
                self.end_headers()
                return
            body = self.rfile.read(length)
            try:
                payload = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            record = {
                "t": arrived,
                "webhook_id": self.headers.get("webhook-id", ""),
                "type": payload.get("type") if isinstance(payload, dict) else None,
                "pf_id": footprint_id(payload),
            }
            with lock, log_file.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(int(os.environ["EPD_SCALE_PARTNER_PORT"]), pathlib.Path(os.environ["EPD_SCALE_PARTNER_LOG"]))
