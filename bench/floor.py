"""The floor: the cheapest honest answers, served by the same gunicorn as the app.

`/wechat` reads the body, checks the sha1 signature in constant time and answers `success`: what any WeChat
endpoint must spend at least, so the app's latency divided by this one's is what 网格通 itself costs.
`/floor/upload` reads a multipart body as the app's photo upload does (werkzeug's form parser, field `photo`),
reads the file to its end and answers 201 with its length, decoding nothing: what any upload endpoint must spend
(bench/upload.py).
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

    @app.post("/floor/upload")
    def upload() -> tuple[dict, int]:
        sent = request.files.get("photo")
        if sent is None:
            return {"error": "no_photo"}, 400
        return {"size": len(sent.stream.read())}, 201

    return app
