"""The web application: `create_app(settings=None)` builds everything once and registers bot/ blueprints."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

import api
import centre
import cli
from bot import logs, mppush, ops, runtime, wechat, wecom
from config import Settings
from handlers import complaints
from storage.db import MAX_ID


class RowId(IntegerConverter):
    """A positive integer no larger than a database id can be."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    # First, so Flask's own logger finds a handler and adds none of its own.
    logs.configure(settings.log_format)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # <id:number> in a route: a row id, so 99999999999 is no ticket (404) rather than a query that cannot run
    app.url_map.converters["id"] = RowId
    rt = runtime.Runtime(settings)
    complaints.warm_up(rt.engine)
    runtime.install(rt)
    app.extensions["wanggetong"] = rt
    app.register_blueprint(wechat.blueprint)
    app.register_blueprint(wecom.blueprint)
    app.register_blueprint(mppush.blueprint)  # the mini-program's message push, /wechat/mp
    centre.install(app)  # the command centre's screen, /centre/
    api.install(app)  # the resident app's API, /api/v1
    ops.install(app, rt)  # /healthz, /metrics, and a request id on every request
    cli.register(app)
    if settings.proxy_hops:
        # request.remote_addr becomes the address nginx saw (the centre's sign-in limit counts it); the header is
        # trusted only this many hops deep, so what a client writes in it is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]
    return app
