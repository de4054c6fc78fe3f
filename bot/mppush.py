"""The mini-program's message push (消息推送) `/wechat/mp`: where WeChat sends the verdict of a photo's media check
(mediaCheckAsync v2), the event `wxa_media_check`.

The console's settings this expects: 数据格式 JSON, 消息加密方式 明文模式, the URL `<WGT_PUBLIC_URL>/wechat/mp` and
the token WECHAT_MP_TOKEN. 安全模式 (an `Encrypt` part only) is not supported yet: such a push is refused (400) and
logged. As on `/wechat`: GET with `echostr` answers the console's URL check; a POST is signed over the query
(sha1 of token, timestamp, nonce, compared in constant time) within the allowed clock skew, its body capped, and
in plaintext mode bound to its query (a signed query copied from a log cannot carry another body). The answer is
"success" to every event we could read, ours or not; WeChat retries what got none.

    {"ToUserName", "FromUserName", "CreateTime", "MsgType": "event", "Event": "wxa_media_check", "appid",
     "trace_id", "version": 2, "result": {"suggest": "pass" | "review" | "risky", "label"}, "detail": [...]}
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from flask import Blueprint, Response, request
from redis.exceptions import RedisError

from bot.miniprogram import SUGGESTIONS
from bot.runtime import Runtime
from bot.wechat import BadRequest, check_signature, check_timestamp, echo_if_signed, guarded, read_body, runtime
from config import DEV_MP_TOKEN
from handlers import selfservice
from storage.models import utcnow

log = logging.getLogger(__name__)
blueprint = Blueprint("mppush", __name__)
MEDIA_CHECK = "wxa_media_check"
# Longer than any trace_id we keep (storage: 64): not one of ours.
MAX_TRACE_ID = 64


def _enabled(rt: Runtime) -> bool:
    # In production the public development token would let anyone sign a verdict: the endpoint is off until it is set.
    return not (rt.settings.production and rt.settings.wechat_mp_token == DEV_MP_TOKEN)


@blueprint.get("/wechat/mp")
def verify() -> Response:
    """The console's URL check: echo echostr when the signature is ours."""
    rt = runtime()
    if not _enabled(rt):
        return Response("not found", status=404)
    return echo_if_signed(rt.settings.wechat_mp_token)


@blueprint.post("/wechat/mp")
def receive() -> Response:
    rt = runtime()
    if not _enabled(rt):
        return Response("not found", status=404)
    return guarded(lambda: handle(rt), "mini-program push")


def handle(rt: Runtime) -> Response:
    settings, args = rt.settings, request.args
    raw = read_body(settings.max_body_bytes)
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    check_timestamp(timestamp, settings.max_clock_skew_seconds)
    check_signature((settings.wechat_mp_token, timestamp, nonce), args.get("signature", ""))
    bind_body(rt, timestamp, nonce, raw)
    event = parse_json(raw)
    if "Encrypt" in event and "Event" not in event:
        raise BadRequest(400, "encrypted push (安全模式) not supported: set the console to 明文模式")
    name = str(event.get("Event", ""))
    if name != MEDIA_CHECK:
        return success()
    appid = event.get("appid")
    if appid and appid != settings.wechat_mp_appid:
        log.warning("media check verdict for another mini-program ignored")
        return success()
    trace_id, result = event.get("trace_id"), event.get("result")
    suggest = result.get("suggest") if isinstance(result, dict) else None
    if not isinstance(trace_id, str) or not trace_id or suggest not in SUGGESTIONS:
        raise BadRequest(400, "wxa_media_check without trace_id or result.suggest")
    if len(trace_id) > MAX_TRACE_ID:
        return success()
    taken = selfservice.take_media_verdict(rt.engine, trace_id, str(suggest), utcnow())
    log.info("media check verdict", extra={"suggest": suggest, "taken": taken})
    return success()


def success() -> Response:
    return Response("success", mimetype="text/plain")


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(400, "malformed JSON") from None
    if not isinstance(event, dict):
        raise BadRequest(400, "JSON body is not an object")
    return event


def bind_body(rt: Runtime, timestamp: str, nonce: str, raw: bytes) -> None:
    """Plaintext mode signs the query, not the body: a signed query may come again (WeChat's retries) only with
    the body it first came with (bot/wechat.py's rule, under keys of its own)."""
    key = f"wgt:wechat-mp:query:{timestamp}:{nonce}"
    digest = hashlib.sha256(raw).hexdigest()
    try:
        if rt.redis.set(key, digest, nx=True, ex=2 * rt.settings.max_clock_skew_seconds):
            return
        first = rt.redis.get(key)
    except RedisError as error:
        # Answering matters more: the timestamp window still bounds a replay.
        log.warning("redis unavailable; push body not bound to its query: %s", type(error).__name__)
        return
    if first is not None and (first.decode() if isinstance(first, bytes) else first) != digest:
        raise BadRequest(403, "signed query replayed with another body")
