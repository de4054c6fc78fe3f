"""The resident app's API, /api/v1 (a WeChat mini-program, and the page /m/ in the Official Account), over HTTP only.

What a report does and what a resident may do is handlers/selfservice.py's (the chat's intake and commands); who
the caller is on WeChat's side is bot/miniprogram.py's. Here: the OpenAPI document (api/openapi.yaml, served at
/api/v1/openapi.json, and every JSON body is checked against it), the bearer token (signed with WGT_SESSION_SECRET,
7 days), the per-caller call limit, photo uploads and their signed addresses, and errors as
`{"error", "message"}` with a Chinese message, never a 500 for what a client sent.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import yaml
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from jsonschema import Draft202012Validator
from redis.exceptions import RedisError
from sqlmodel import Session
from werkzeug.exceptions import HTTPException

from api.page import blueprint as page_blueprint
from bot import jobs, miniprogram, photolinks
from handlers import photos as photo_rules
from handlers import selfservice
from handlers.selfservice import Refused, Report
from storage import photos, photostore
from storage.db import MAX_ID, transaction
from storage.models import Photo, PhotoCheck, utcnow

log = logging.getLogger(__name__)
blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
SPEC_PATH = Path(__file__).with_name("openapi.yaml")
TOKEN_DAYS = 7
# Calls one resident may make in a minute, and sign-ins one address may try: far above a person's use.
CALLS_PER_MINUTE = 120
SIGN_INS_PER_MINUTE = 30
# A photo's request: 10 MB of image and the multipart envelope around it.
UPLOAD_LIMIT = photo_rules.MAX_BYTES + 64 * 1024
F = TypeVar("F", bound=Callable[..., Any])


def install(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.register_blueprint(page_blueprint)  # the resident's page /m/
    # Outside the blueprint: a path under /api/ that matches no route, or the wrong method, still answers in JSON.
    app.register_error_handler(HTTPException, _http_error)


def _rt() -> Any:
    return current_app.extensions["wanggetong"]


# ---- the document and its schemas ----------------------------------------------------------------------------------


@functools.cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def document() -> str:
    """The document as published in docs/openapi.json (`flask --app app api-doc`)."""
    return json.dumps(spec(), ensure_ascii=False, indent=2) + "\n"


@functools.cache
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": spec()["components"]})


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(spec())


def body(schema: str) -> dict[str, Any]:
    """The request's JSON, checked against the document's schema; a refusal names the first thing wrong."""
    if not request.is_json:
        raise Refused(415, "not_json", "请求格式不对：请用 JSON（Content-Type: application/json）。")
    data = request.get_json(silent=True)
    if data is None:
        raise Refused(400, "bad_json", "请求内容不是有效的 JSON。")
    error = next(iter(sorted(_validator(schema).iter_errors(data), key=lambda e: list(e.path))), None)
    if error is not None:
        where = ".".join(str(p) for p in error.path) or "请求"
        raise Refused(422, "invalid", f"{where} 不符合要求：{error.message[:120]}")
    return dict(data)


# ---- errors --------------------------------------------------------------------------------------------------------

HTTP_WORDS = {
    400: "请求有误，请检查后重试。",
    401: "请先登录。",
    403: "没有权限。请从公众号菜单“我要反映”重新进入。",
    404: "没有这个地址。请从公众号菜单“我要反映”重新进入。",
    405: "不支持这种请求方法。请从公众号菜单“我要反映”重新进入。",
    413: "内容太大了。照片请小于 10 MB，文字请少于 2000 字。",
    415: "请求格式不对。请从公众号菜单“我要反映”重新进入。",
    429: "操作太频繁了，请稍后再试。",
}


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


@blueprint.errorhandler(Refused)
def _refused(refused: Refused) -> Response:
    return _error(refused.status, refused.code, refused.message)


def _http_error(error: HTTPException) -> Response | HTTPException:
    if not request.path.startswith("/api/"):
        return error
    status = error.code or 500
    return _error(status, (error.name or "error").lower().replace(" ", "_"), HTTP_WORDS.get(status, "请稍后再试。"))


# ---- who is calling ------------------------------------------------------------------------------------------------


def _tokens() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_rt().settings.session_secret, salt="wgt-api-v1")


def issue(person_id: int, channel: str) -> dict[str, Any]:
    token = _tokens().dumps({"p": person_id, "c": channel})
    return {"token": token, "expires_in": TOKEN_DAYS * 86400, "me": me_of(person_id)}


def signed_in(view: F) -> F:
    """The view needs a resident's bearer token; it finds the person in g.person_id and the app in g.channel."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Refused(401, "signed_out", "请先登录。")
        try:
            data = _tokens().loads(token.strip(), max_age=TOKEN_DAYS * 86400)
        except SignatureExpired:
            raise Refused(401, "signed_out", "登录已过期，请重新进入。") from None
        except BadSignature:
            raise Refused(401, "signed_out", "请先登录。") from None
        if not isinstance(data, dict) or not isinstance(data.get("p"), int):
            raise Refused(401, "signed_out", "请先登录。")
        g.person_id, g.channel = data["p"], str(data.get("c", "miniprogram"))
        _limit(f"wgt:api:calls:{g.person_id}", CALLS_PER_MINUTE)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _limit(key: str, per_minute: int) -> None:
    """A fixed one-minute window in Redis shared by every web worker; without Redis, no limit (not a failure)."""
    bucket = f"{key}:{int(time.time() // 60)}"
    try:
        pipe = _rt().redis.pipeline()
        pipe.incr(bucket)
        pipe.expire(bucket, 120)
        count = pipe.execute()[0]
    except RedisError:
        return
    if count > per_minute:
        raise Refused(429, "too_many", "操作太频繁了，请一分钟后再试。")


def _key() -> str:
    """The client's Idempotency-Key, or a fresh one (each such request counts as a new action)."""
    given = request.headers.get("Idempotency-Key", "").strip()
    if len(given) > 64:
        raise Refused(400, "bad_key", "Idempotency-Key 太长（最多 64 个字符）。")
    return given or uuid.uuid4().hex


def _done(done: selfservice.Done) -> Response:
    jobs.enqueue(_rt(), done.queued)  # after commit, as for a chat message
    response = jsonify(with_photo_links(done.body))
    response.status_code = done.status
    return response


# ---- signing in ----------------------------------------------------------------------------------------------------


def _wechat_call(call: Callable[[], Any]) -> Any:
    """Ask WeChat; a refused code is the client's to fix (401), WeChat out of reach is ours to say (503)."""
    try:
        return call()
    except miniprogram.WeChatRefused as refused:
        if refused.retryable:  # WeChat busy, or our own credentials wrong: not the resident's code
            log.warning("wechat refused a sign-in call", extra={"errcode": refused.errcode})
            raise Refused(503, "wechat_unavailable", "暂时连不上微信，请稍后再试。") from None
        log.info("wechat refused a sign-in code", extra={"errcode": refused.errcode})
        raise Refused(401, "bad_code", "微信登录凭证无效或已过期，请重新进入。") from None
    except miniprogram.TRANSIENT_FAILURES as error:
        log.warning("wechat out of reach at sign-in", extra={"error": type(error).__name__})
        raise Refused(503, "wechat_unavailable", "暂时连不上微信，请稍后再试。") from None


@blueprint.post("/session")
def session_mini() -> Response:
    _limit(f"wgt:api:signin:{request.remote_addr}", SIGN_INS_PER_MINUTE)
    code = body("CodeIn")["code"]
    settings = _rt().settings
    if not settings.miniprogram:
        raise Refused(503, "off", "小程序登录未开通，请从公众号菜单“我要反映”进入。")
    found = _wechat_call(lambda: miniprogram.MiniProgramClient(settings, _rt().redis).code2session(code))
    person_id = selfservice.sign_in(_rt().engine, "miniprogram", found.openid, found.unionid)
    return jsonify(issue(person_id, "miniprogram"))


@blueprint.post("/session/web")
def session_web() -> Response:
    _limit(f"wgt:api:signin:{request.remote_addr}", SIGN_INS_PER_MINUTE)
    code = body("CodeIn")["code"]
    openid, unionid = _wechat_call(lambda: miniprogram.oa_web_openid(_rt().settings, code))
    person_id = selfservice.sign_in(_rt().engine, "h5", openid, unionid)
    return jsonify(issue(person_id, "h5"))


def me_of(person_id: int) -> dict[str, Any]:
    return selfservice.me(_rt().engine, person_id)


@blueprint.get("/me")
@signed_in
def me() -> Response:
    return jsonify(me_of(g.person_id))


@blueprint.post("/me/phone")
@signed_in
def bind_phone() -> Response:
    code = body("CodeIn")["code"]
    settings = _rt().settings
    if not settings.miniprogram:
        raise Refused(503, "off", "手机号绑定需要小程序，暂未开通。")
    phone = _wechat_call(lambda: miniprogram.MiniProgramClient(settings, _rt().redis).phone_number(code))
    person_id = selfservice.bind_phone(_rt().engine, g.person_id, phone)
    # The person may have become another (one resident through two apps): the new token says so.
    return jsonify(issue(person_id, g.channel))


# ---- reporting -----------------------------------------------------------------------------------------------------


def _number(name: str, low: float, high: float) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Refused(400, "invalid", f"{name} 应为数字。") from None
    if not low <= value <= high:
        raise Refused(400, "invalid", f"{name} 超出范围。")
    return value


@blueprint.get("/suggest")
@signed_in
def suggest() -> Response:
    text = request.args.get("text", "")
    address = request.args.get("address", "")
    if not text.strip() or len(text) > selfservice.TEXT_LIMIT or len(address) > 120:
        raise Refused(400, "invalid", "请输入问题描述（2000 字以内）。")
    lat, lng = _number("lat", -90, 90), _number("lng", -180, 180)
    return jsonify(selfservice.suggest(_rt().engine, g.person_id, text, lat, lng, address))


@blueprint.get("/map")
@signed_in
def grid_map() -> Response:
    lat, lng = _number("lat", -90, 90), _number("lng", -180, 180)
    return jsonify(selfservice.grid_map(_rt().engine, g.person_id, lat, lng))


@blueprint.post("/tickets")
@signed_in
def report() -> Response:
    data = body("ReportIn")
    fields = Report(
        text=data["text"],
        lat=data.get("lat"),
        lng=data.get("lng"),
        address=data.get("address", ""),
        photo_ids=tuple(data.get("photos", ())),
    )
    if (fields.lat is None) != (fields.lng is None):
        raise Refused(422, "invalid", "位置要同时有经度和纬度，请重新在地图上选点。")
    try:
        fields = replace(fields, content_check=content_check(fields.text))
    except Refused:
        # Refused for what it says: its photos are not kept either.
        for key in selfservice.discard_photos(_rt().engine, g.person_id, fields.photo_ids):
            store().delete(key)
        raise
    return _done(selfservice.report(_rt().engine, g.person_id, g.channel, fields, _key(), utcnow()))


def content_check(text: str) -> str:
    """WeChat's content safety (msgSecCheck v2) on a mini-program user's text: "risky" is refused here, "review" is
    kept and flagged for the centre. Not asked for the page /m/ (the check needs a mini-program openid) nor when
    the mini-program is off; when WeChat cannot be reached the report is kept unchecked: a resident's problem is
    not lost to an outage."""
    settings = _rt().settings
    openid = selfservice.mp_openid_of(_rt().engine, g.person_id) if g.channel == "miniprogram" else None
    if not openid or not settings.miniprogram:
        return ""
    try:
        verdict = miniprogram.MiniProgramClient(settings, _rt().redis).check_text(openid, text, miniprogram.SCENE_FORUM)
    except (miniprogram.WeChatRefused, *miniprogram.TRANSIENT_FAILURES) as failure:
        log.warning("content check not available; report kept unchecked", extra={"error": type(failure).__name__})
        return ""
    if verdict.suggest == "risky":
        raise Refused(422, "content_refused", "内容含有不宜发布的信息，请修改后再提交。紧急情况请直接拨打110。")
    return verdict.suggest


@blueprint.get("/tickets")
@signed_in
def my_tickets() -> Response:
    before, limit = request.args.get("before", ""), request.args.get("limit", "20")
    valid_before = not before or (before.isdecimal() and int(before) <= MAX_ID)
    if not valid_before or not limit.isdecimal() or not 1 <= int(limit) <= 50:
        raise Refused(400, "invalid", "before 应为工单号，limit 应为 1 到 50。")
    page = selfservice.my_tickets(_rt().engine, g.person_id, int(before) if before else None, int(limit))
    return jsonify(page)


@blueprint.get("/tickets/<id:ticket_id>")
@signed_in
def my_ticket(ticket_id: int) -> Response:
    return jsonify(with_photo_links(selfservice.ticket_of(_rt().engine, g.person_id, ticket_id)))


@blueprint.post("/tickets/<id:ticket_id>/rating")
@signed_in
def rate(ticket_id: int) -> Response:
    data = body("RatingIn")
    note = str(data.get("note", "")).strip()
    return _done(selfservice.rate(_rt().engine, g.person_id, ticket_id, data["score"], note, _key(), utcnow()))


@blueprint.post("/tickets/<id:ticket_id>/urge")
@signed_in
def urge(ticket_id: int) -> Response:
    return _done(selfservice.urge(_rt().engine, g.person_id, ticket_id, _key(), utcnow()))


@blueprint.post("/tickets/<id:ticket_id>/cancel")
@signed_in
def cancel(ticket_id: int) -> Response:
    return _done(selfservice.cancel(_rt().engine, g.person_id, ticket_id, _key(), utcnow()))


# ---- subscribe messages --------------------------------------------------------------------------------------------


@blueprint.post("/subscriptions")
@signed_in
def subscribe() -> Response:
    """What wx.requestSubscribeMessage said the resident accepted: one notice each (handlers/selfservice.py)."""
    accepted = body("SubscriptionsIn")["accepted"]
    template = _rt().settings.wechat_mp_notice_template_id
    known = frozenset({template}) if template else frozenset()
    return _done(selfservice.subscribe(_rt().engine, g.person_id, accepted, known, _key()))


# ---- photos --------------------------------------------------------------------------------------------------------


def store() -> photostore.PhotoStore:
    found: photostore.PhotoStore = _rt().photos
    return found


@blueprint.post("/photos")
@signed_in
def upload() -> Response:
    """One photo: checked and re-encoded (handlers/photos.py), stored, and a row that waits for its report. The
    file is written before the row: a row never names a missing file; a file without a row (the commit failed)
    is only an orphan in the store."""
    request.max_content_length = UPLOAD_LIMIT
    if (request.content_length or 0) > UPLOAD_LIMIT:
        # Before the form is read: werkzeug's parser, stopped halfway, would leave its temporary file open.
        raise Refused(413, "bad_photo", photo_rules.TOO_BIG)
    now = utcnow()
    with transaction(_rt().engine) as session:
        selfservice.caller(session, g.person_id)
        if selfservice.photo_limit_reached(session, g.person_id, now):
            raise Refused(429, "too_many", "一小时内上传的照片太多了，请稍后再试。")
    sent = request.files.get("photo")
    if sent is None:
        raise Refused(400, "no_photo", "请选择一张照片上传（表单字段 photo）。")
    data = sent.stream.read(photo_rules.MAX_BYTES + 1)
    try:
        checked = photo_rules.inspect(data)
    except photo_rules.PhotoRefused as refused:
        status = 413 if len(data) > photo_rules.MAX_BYTES else 415
        raise Refused(status, "bad_photo", refused.message) from None
    key = photostore.new_key(now)
    store().put(key, checked.data, checked.content_type)
    try:
        with transaction(_rt().engine) as session:
            photo = photos.add(
                session,
                Photo(
                    key=key,
                    person_id=g.person_id,
                    sha256=checked.sha256,
                    width=checked.width,
                    height=checked.height,
                    size=len(checked.data),
                    lat=checked.lat,
                    lng=checked.lng,
                    created_at=now,
                ),
            )
            assert photo.id is not None
            photo_id = photo.id
            answer = {"id": photo_id, "width": photo.width, "height": photo.height, "located": photo.lat is not None}
    except Exception:
        store().delete(key)
        raise
    check_photo(photo_id)
    response = jsonify(answer)
    response.status_code = 201
    return response


def check_photo(photo_id: int) -> None:
    """Ask WeChat's media check (mediaCheckAsync v2) about a mini-program user's photo, after its row is committed;
    the verdict comes later to /wechat/mp (bot/mppush.py). Tencent fetches the photo, so this needs the app's
    public address. Not asked for the page /m/ (no mini-program openid); WeChat out of reach or refusing leaves the
    photo pending, and shown: a resident's report is not lost to an outage."""
    settings = _rt().settings
    if g.channel != "miniprogram" or not settings.miniprogram or not settings.public_url:
        return
    openid = selfservice.mp_openid_of(_rt().engine, g.person_id)
    if not openid:
        return
    url = settings.public_url.rstrip("/") + photolinks.photo_path(settings, photo_id)
    try:
        trace_id = miniprogram.MiniProgramClient(settings, _rt().redis).check_media(openid, url)
    except (miniprogram.WeChatRefused, *miniprogram.TRANSIENT_FAILURES) as failure:
        log.warning("media check not available; photo kept unchecked", extra={"error": type(failure).__name__})
        return
    with transaction(_rt().engine) as session:
        photos.set_trace(session, photo_id, trace_id)


def with_photo_links(data: dict[str, Any]) -> dict[str, Any]:
    """Give each photo of the ticket in the answer its signed address."""
    ticket = data.get("ticket", data)
    for photo in ticket.get("photos", ()) if isinstance(ticket, dict) else ():
        if photo["id"] is not None:  # ours; a worker's 办结照片 keeps the link WeCom gave
            photo["url"] = photolinks.photo_path(_rt().settings, photo["id"])
    return data


@blueprint.get("/photos/<id:photo_id>")
def photo(photo_id: int) -> Response:
    if not photolinks.photo_allowed(_rt().settings, photo_id, request.args.get("exp", ""), request.args.get("sig", "")):
        raise Refused(403, "bad_link", "图片链接无效或已过期，请刷新页面。")
    with Session(_rt().engine) as session:
        found = photos.by_id(session, photo_id)
        key = found.key if found is not None and found.check != PhotoCheck.RISKY else None
    data = store().get(key) if key else None
    if data is None:
        raise Refused(404, "not_found", "没有这张图片，请刷新页面后再看。")
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=600"
    return response


@blueprint.get("/shared/<token>")
def shared_photos(token: str) -> Response:
    """The ticket's photos as a page, for the group card's "照片" row (opened in WeCom's browser)."""
    settings = _rt().settings
    number = photolinks.ticket_of_page(settings, token)
    if number is None:
        raise Refused(404, "not_found", "链接无效或已过期，请在群里重新打开工单卡片上的照片。")
    with Session(_rt().engine) as session:
        shown = [p.id for p in photos.shown_of_ticket(session, number) if p.id is not None]
    images = "".join(f'<img src="{html.escape(photolinks.photo_path(settings, i))}" alt="照片">' for i in shown)
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>工单 {number} 的照片</title>"
        "<style>body{margin:0;font:16px sans-serif;background:#111;color:#eee}h1{font-size:17px;padding:12px}"
        "img{display:block;width:100%;margin:0 0 8px}</style></head>"
        f"<body><h1>工单 {number} 的照片（{len(shown)}张）</h1>{images or '<p>没有可显示的照片。</p>'}</body></html>"
    )
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response
