"""The floor: the cheapest honest answer to a WeChat callback, served by the same gunicorn as the app.

It reads the body, checks the sha1 signature in constant time and answers `success`: what any WeChat endpoint
must spend at least, so the app's latency divided by this one's is what 网格通 itself costs.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, request

from config import Settings


def create_app() -> Flask:
    token = Settings.from_env().wechat_token
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> tuple[dict, int]:
        return {"status": "ok"}, 200

    @app.post("/wechat")
    def receive() -> Response:
        args = request.args
        request.get_data(cache=False)
        parts = sorted((token, args.get("timestamp", ""), args.get("nonce", "")))
        expected = hashlib.sha1("".join(parts).encode()).hexdigest()
        if not hmac.compare_digest(expected, args.get("signature", "").lower()):
            return Response("", status=403)
        return Response("success", mimetype="text/plain")

    return app
