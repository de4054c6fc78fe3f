"""The web application: `create_app(settings=None)` builds everything once and registers bot/ blueprints."""

from __future__ import annotations

import logging

from flask import Flask

import cli
from bot import runtime, wechat, wecom
from config import Settings
from handlers import complaints


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    complaints.warm_up()
    rt = runtime.Runtime(settings)
    runtime.install(rt)
    app.extensions["wanggetong"] = rt
    app.register_blueprint(wechat.blueprint)
    app.register_blueprint(wecom.blueprint)
    cli.register(app)

    @app.get("/healthz")
    def healthz() -> tuple[dict, int]:
        return {"status": "ok"}, 200

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return app
