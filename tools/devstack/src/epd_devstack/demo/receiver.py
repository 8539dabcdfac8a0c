"""A partner body's webhook endpoint for local runs: verifies every delivery with the
`standardwebhooks` library (independently of the publisher's signing code) and records it.

`python -m epd_devstack.demo.receiver` with EPD_DEMO_RECEIVER_SECRET, _PORT and _LOG (a JSON-lines
file). GET /deliveries lists what arrived; unverifiable requests get 401 and are counted.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading

import uvicorn
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook, WebhookVerificationError

from epd_common.http_limits import RequestBodyLimit

MAX_BODY_BYTES = 2 * 1024 * 1024


def create_app(secret: str, log_file: pathlib.Path) -> FastAPI:
    app = FastAPI(title="demo partner receiver")
    verifier = Webhook(secret)
    lock = threading.Lock()
    rejected = 0
    seen: set[str] = set()

    @app.post("/webhooks")
    async def webhook(request: Request) -> Response:
        nonlocal rejected
        body = await request.body()
        try:
            payload = verifier.verify(body, dict(request.headers))
        except WebhookVerificationError:
            rejected += 1
            return Response(status_code=401, content=b'{"error":"bad signature"}', media_type="application/json")
        msg_id = request.headers.get("webhook-id", "")
        with lock:
            duplicate = msg_id in seen
            seen.add(msg_id)
            if not duplicate:
                record = {"webhook_id": msg_id, "type": payload.get("type"), "data": payload.get("data")}
                with log_file.open("a") as fh:
                    fh.write(json.dumps(record) + "\n")
        return Response(status_code=204)

    @app.get("/deliveries")
    def deliveries() -> dict:
        lines = log_file.read_text().splitlines() if log_file.exists() else []
        return {"rejected": rejected, "deliveries": [json.loads(line) for line in lines]}

    # A partner's endpoint is on the internet: bounded bodies and JSON before anything reads them.
    app.add_middleware(RequestBodyLimit, default_max=MAX_BODY_BYTES, body=lambda reason, message: {"error": message})
    return app


def main() -> None:
    log_file = pathlib.Path(os.environ["EPD_DEMO_RECEIVER_LOG"])
    log_file.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(os.environ["EPD_DEMO_RECEIVER_SECRET"], log_file)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("EPD_DEMO_RECEIVER_PORT", "8099")), log_level="warning")


if __name__ == "__main__":
    main()
