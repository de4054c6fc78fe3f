"""The Official Account callback `/wechat`: verify, decrypt, parse, hand to handlers, answer within 5 seconds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime

from defusedxml import ElementTree
from flask import Blueprint, Response, current_app, request
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from wechatpy.crypto import PrpCrypto
from wechatpy.replies import TextReply

from bot import jobs
from bot.runtime import Runtime
from handlers.conversation import process
from handlers.types import Message

log = logging.getLogger(__name__)
blueprint = Blueprint("wechat", __name__)
# What WeChat shows a user comfortably in one passive reply (DOMAIN.md §3).
MAX_REPLY_BYTES = 2000
_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(r"^\ufeff?<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
# Tickets keep the delivery key as source_msg_id, a 128-character column; a real MsgId has about 20 digits.
MAX_DEDUPE_KEY = 128


class BadRequest(Exception):
    """Input we refuse: the status and a short reason for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted parts joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(expected_parts: tuple[str, ...], given: str) -> None:
    # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500).
    if not given or not hmac.compare_digest(sign(*expected_parts).encode(), given.lower().encode(errors="replace")):
        raise BadRequest(403, "bad signature")


def check_timestamp(timestamp: str, max_skew: int) -> None:
    # isdecimal, not isdigit: "²" is a digit int() cannot read.
    if not timestamp.isdecimal() or abs(time.time() - int(timestamp)) > max_skew:
        raise BadRequest(403, "timestamp outside the allowed window")


def parse_xml(raw: bytes) -> dict[str, str]:
    """A flat <xml> document as a dict; DTDs and entities are refused, never expanded."""
    if _FORBIDDEN.search(raw):
        raise BadRequest(400, "DOCTYPE/ENTITY refused")
    # Tencent sends UTF-8. Parsing the decoded text makes expat read UTF-8 whatever the bytes claim, so GBK,
    # UTF-16 or a false declaration cannot turn into a ticket full of mojibake.
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(400, "body is not UTF-8") from None
    declared = _DECLARED_ENCODING.match(text)
    if declared and declared.group(1).lower() not in ("utf-8", "utf8"):
        raise BadRequest(400, f"declared encoding {declared.group(1)!r} refused")
    try:
        root = ElementTree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # defusedxml raises ParseError or its own DefusedXmlException subclasses
        raise BadRequest(400, f"malformed XML: {type(exc).__name__}") from None
    if root.tag != "xml":
        raise BadRequest(400, "root element is not <xml>")
    return {child.tag: (child.text or "").strip() for child in root}


def to_message(fields: dict[str, str]) -> Message:
    sender, kind = fields.get("FromUserName", ""), fields.get("MsgType", "").lower()
    if not sender or not kind or len(sender) > 64:
        raise BadRequest(400, "FromUserName or MsgType missing")
    created = fields.get("CreateTime", "")
    created_at = datetime.fromtimestamp(int(created), UTC) if created.isdecimal() and len(created) < 12 else None
    event = fields.get("Event", "")
    dedupe = fields.get("MsgId") or f"{sender}:{created}:{event.lower()}"
    text = fields.get("Content", "") if kind == "text" else fields.get("Recognition", "") if kind == "voice" else ""
    lat = lng = None
    if kind == "location":
        try:
            lat, lng = float(fields["Location_X"]), float(fields["Location_Y"])
        except (KeyError, ValueError):
            raise BadRequest(400, "location without coordinates") from None
    return Message(
        channel="wechat",
        dedupe_key=dedupe[:MAX_DEDUPE_KEY],
        sender=sender,
        kind=kind if kind in ("text", "voice", "image", "location", "event") else "other",
        text=unicodedata.normalize("NFKC", text)[:2000],
        media_id=fields.get("MediaId", "")[:256],
        pic_url=fields.get("PicUrl", "")[:512],
        lat=lat,
        lng=lng,
        label=fields.get("Label", "")[:250],
        event=event,
        event_key=fields.get("EventKey", "")[:128],
        created_at=created_at,
    )


def cdata_safe(text: str) -> str:
    """wechatpy puts reply text in CDATA unescaped; a "]]>" in it would end the section early."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def clip(text: str, limit: int = MAX_REPLY_BYTES) -> str:
    if len(text.encode()) <= limit:
        return text
    cut = text.encode()[: limit - 3].decode(errors="ignore")
    return cut + "…"


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["wanggetong"]
    return rt


@blueprint.get("/wechat")
def verify() -> Response:
    """URL verification from the Official Account console."""
    return echo_if_signed(runtime().settings.wechat_token)


def echo_if_signed(token: str) -> Response:
    """A console's URL check (the Official Account's, the mini-program's push): echo echostr when the request is
    signed with our token, else 403."""
    args = request.args
    try:
        check_signature((token, args.get("timestamp", ""), args.get("nonce", "")), args.get("signature", ""))
    except BadRequest as refused:
        return Response("forbidden", status=refused.status)
    return Response(args.get("echostr", ""), mimetype="text/plain")


@blueprint.post("/wechat")
def receive() -> Response:
    rt = runtime()
    return guarded(lambda: handle(rt), "wechat callback")


def guarded(work: Callable[[], Response], what: str) -> Response:
    """A WeChat push answered: a refusal as its status with an empty body, and the database away as 503, so that
    WeChat delivers it again (a callback up to 3 tries; an event the same)."""
    try:
        return work()
    except BadRequest as refused:
        log.info("%s refused (%s): %s", what, refused.status, refused)
        return Response("", status=refused.status)
    except OperationalError:
        log.exception("database unavailable for a %s", what)
        return Response("", status=503)


def read_body(max_bytes: int) -> bytes:
    """The request body, refused before reading when it says it is too large, and after when it lied."""
    if (request.content_length or 0) > max_bytes:
        raise BadRequest(413, "body too large")
    raw = request.get_data(cache=False)
    if len(raw) > max_bytes:
        raise BadRequest(413, "body too large")
    return raw


def handle(rt: Runtime) -> Response:
    settings = rt.settings
    args = request.args
    raw = read_body(settings.max_body_bytes)
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    safe_mode = args.get("encrypt_type", "raw").lower() == "aes"
    check_timestamp(timestamp, settings.max_clock_skew_seconds)
    if settings.encrypted_only and not safe_mode:
        # In 兼容模式 and 安全模式 WeChat encrypts every callback. A plaintext body is signed by nobody: only the
        # query is, and a query can be copied from any access log.
        raise BadRequest(403, f"plaintext callback refused in {settings.wechat_mode} mode")
    if not safe_mode:
        check_signature((settings.wechat_token, timestamp, nonce), args.get("signature", ""))
        bind_body(rt, timestamp, nonce, raw)
    fields = parse_xml(raw)
    if safe_mode:
        encrypted = fields.get("Encrypt", "")
        check_signature((settings.wechat_token, timestamp, nonce, encrypted), args.get("msg_signature", ""))
        fields = parse_xml(decrypt(rt, encrypted).encode())

    msg = to_message(fields)
    if msg.kind == "event" and msg.event.upper() == "LOCATION":
        return Response("success", mimetype="text/plain")  # periodic position reports need no answer
    outcome = process(rt.engine, msg)
    jobs.enqueue(rt, outcome.queued)
    if not outcome.reply.text:
        return Response("success", mimetype="text/plain")
    reply = TextReply(
        source=fields.get("ToUserName", ""),
        target=msg.sender,
        content=cdata_safe(clip(outcome.reply.text)),
        time=int(time.time()),
    ).render()
    if safe_mode:
        reply = encrypt(rt, reply, nonce)
    return Response(reply, mimetype="application/xml")


def bind_body(rt: Runtime, timestamp: str, nonce: str, raw: bytes) -> None:
    """Plaintext mode signs the query, not the body. A signed query may come again (WeChat's retries) only with the
    body it first came with, so a query copied from an access log cannot carry a forged message."""
    key = f"wgt:wechat:query:{timestamp}:{nonce}"
    digest = hashlib.sha256(raw).hexdigest()
    try:
        if rt.redis.set(key, digest, nx=True, ex=2 * rt.settings.max_clock_skew_seconds):
            return
        first = rt.redis.get(key)
    except RedisError as error:
        # Answering matters more: the timestamp window still bounds a replay.
        log.warning("redis unavailable; plaintext body not bound to its query: %s", type(error).__name__)
        return
    if first is not None and (first.decode() if isinstance(first, bytes) else first) != digest:
        raise BadRequest(403, "signed query replayed with another body")


def decrypt(rt: Runtime, encrypted: str) -> str:
    try:
        return str(PrpCrypto(aes_key(rt)).decrypt(encrypted, rt.settings.wechat_appid))
    except Exception:  # wrong key, wrong appid, bad padding, bad base64: all the sender's fault
        raise BadRequest(400, "cannot decrypt") from None


def encrypt(rt: Runtime, reply_xml: str, nonce: str) -> str:
    settings = rt.settings
    timestamp = str(int(time.time()))
    nonce = nonce or secrets.token_hex(8)
    encrypted = PrpCrypto(aes_key(rt)).encrypt(reply_xml, settings.wechat_appid).decode()
    signature = sign(settings.wechat_token, timestamp, nonce, encrypted)
    return (
        f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
    )


def aes_key(rt: Runtime) -> bytes:
    return base64.b64decode(rt.settings.wechat_aes_key + "=")
