"""The resident's page /m/ (随手拍 in the Official Account's menu): one HTML shell, its script and its style.

Everything the page shows comes from /api/v1 (api/__init__.py), the same calls as the mini-program's; here only
what the script needs to start: where WeChat's authorize page is, the Official Account's appid and the page's own
absolute address (WeChat sends the resident back there with a code). The page needs nothing from the internet:
no CDN, no fonts, no map tiles (the grids are drawn from their outlines).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

blueprint = Blueprint(
    "page", __name__, url_prefix="/m", template_folder="templates", static_folder="static", static_url_path="/static"
)
# Only our own origin: the script, the style, the API and the photos (uploaded ones shown from blob: before they
# are sent). The authorize page is a navigation, which no fetch directive limits.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
)


def _rt() -> Any:
    return current_app.extensions["wanggetong"]


@blueprint.get("/")
def page() -> Response:
    settings = _rt().settings
    root = (settings.public_url or request.host_url).rstrip("/")
    html = render_template(
        "m.html",
        oauth_url=settings.wechat_oauth_url,
        appid=settings.wechat_appid,
        redirect_uri=f"{root}/m/",
    )
    response = Response(html, mimetype="text/html")
    # No one may frame the page (clickjacking), but for WGT_FRAME_ANCESTORS: the simulator's phone under `make run`.
    response.headers["Content-Security-Policy"] = POLICY.format(ancestors=settings.frame_ancestors or "'none'")
    # The address carries WeChat's one-time code until the script drops it: never pass it on.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
