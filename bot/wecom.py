"""The WeCom self-built app callback `/wecom`: a grid worker's single chat with the app, for tenants with no AI bot.

Same shape as `/wechat` (whose helpers it uses): check msg_signature in constant time and the timestamp, cap the
body, refuse DTDs, decrypt (receive id = corp id), parse into Message(channel="wecom") so the roster and the
workers' and supervisors' commands apply unchanged, answer with an encrypted passive reply or an empty 200.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, replace

from flask import Blueprint, Response, request
from sqlalchemy.exc import OperationalError
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.replies import TextReply

from bot import jobs
from bot.runtime import Runtime
from bot.wechat import (
    MAX_DEDUPE_KEY,
    BadRequest,
    cdata_safe,
    check_signature,
    check_timestamp,
    clip,
    parse_xml,
    read_body,
    runtime,
    to_message,
)
from config import DEV_WECOM_APP_AES_KEY, DEV_WECOM_APP_TOKEN, Settings
from handlers.conversation import process
from handlers.types import Message

log = logging.getLogger(__name__)
blueprint = Blueprint("wecom", __name__)

# The development values (config.DEV_WECOM_*) are public: in production the endpoint stays off (404) while the
# token or AES key is still one of them.
# Keeps these deliveries apart from the AI bot's msgids, which share the "wecom" channel in the dedupe table.
DEDUPE_PREFIX = "app:"
# Events that mean a command; the rest (enter_agent, view, LOCATION, subscribe, ...) get an empty 200, unrecorded.
COMMAND_EVENTS = {"click"}


@dataclass(frozen=True)
class AppKeys:
    corp_id: str
    token: str
    aes_key: str
    agent_id: str

    @classmethod
    def of(cls, settings: Settings) -> AppKeys:
        return cls(
            corp_id=settings.wecom_corp_id,
            token=settings.wecom_app_token,
            aes_key=settings.wecom_app_aes_key,
            agent_id=settings.wecom_agent_id,
        )

    @property
    def is_dev(self) -> bool:
        return DEV_WECOM_APP_TOKEN == self.token or DEV_WECOM_APP_AES_KEY == self.aes_key

    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.aes_key, self.corp_id)

    def decrypt(self, encrypted: str) -> str:
        """Open a ciphertext whose msg_signature the caller has checked (wechatpy's own check is not constant
        time, and its decrypt_message parses XML without refusing entities, so only its cipher is used)."""
        try:
            return str(PrpCrypto(self.crypto().key).decrypt(encrypted, self.corp_id))
        except Exception:  # wrong key, wrong corp id, bad padding, bad base64: all the sender's fault
            raise BadRequest(400, "cannot decrypt") from None

    def encrypt(self, reply_xml: str, nonce: str) -> str:
        """The passive reply envelope: Encrypt, MsgSignature, TimeStamp, Nonce."""
        return str(self.crypto().encrypt_message(reply_xml, nonce or secrets.token_hex(8)))


def open_echostr(keys: AppKeys, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
    """URL verification: the plaintext echostr when msg_signature covers (token, timestamp, nonce, echostr)."""
    check_signature((keys.token, timestamp, nonce, echostr), msg_signature)
    return keys.decrypt(echostr)


def to_wecom_message(fields: dict[str, str]) -> Message:
    """The Official Account parsing (kinds, NFKC, limits), re-addressed: sender = WeCom userid."""
    msg = to_message(fields)
    return replace(
        msg, channel="wecom", dedupe_key=(DEDUPE_PREFIX + msg.dedupe_key)[:MAX_DEDUPE_KEY], chat_id=msg.sender
    )


def configured(rt: Runtime) -> AppKeys | None:
    keys = AppKeys.of(rt.settings)
    if rt.settings.production and keys.is_dev:
        return None
    return keys


@blueprint.get("/wecom")
def verify() -> Response:
    """Saving the callback URL in WeCom's console: answer the decrypted echostr within 1 s, so no database here."""
    keys = configured(runtime())
    if keys is None:
        return Response("", status=404)
    args = request.args
    try:
        echo = open_echostr(
            keys,
            args.get("msg_signature", ""),
            args.get("timestamp", ""),
            args.get("nonce", ""),
            args.get("echostr", ""),
        )
    except BadRequest as refused:
        log.info("wecom verification refused (%s): %s", refused.status, refused)
        return Response("forbidden", status=refused.status)
    return Response(echo, mimetype="text/plain")


@blueprint.post("/wecom")
def receive() -> Response:
    rt = runtime()
    keys = configured(rt)
    if keys is None:
        return Response("", status=404)
    try:
        return handle(rt, keys)
    except BadRequest as refused:
        log.info("wecom callback refused (%s): %s", refused.status, refused)
        return Response("", status=refused.status)
    except OperationalError:
        # The database is away: no answer lets WeCom retry the delivery (up to 3 tries).
        log.exception("database unavailable during wecom intake")
        return Response("", status=503)


def handle(rt: Runtime, keys: AppKeys) -> Response:
    settings = rt.settings
    args = request.args
    raw = read_body(settings.max_body_bytes)
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    check_timestamp(timestamp, settings.max_clock_skew_seconds)
    encrypted = parse_xml(raw).get("Encrypt", "")
    check_signature((keys.token, timestamp, nonce, encrypted), args.get("msg_signature", ""))
    fields = parse_xml(keys.decrypt(encrypted).encode())
    agent_id = fields.get("AgentID", "")
    if agent_id and keys.agent_id and agent_id != keys.agent_id:
        raise BadRequest(403, "another app's callback")

    msg = to_wecom_message(fields)
    if msg.kind == "event" and msg.event.lower() not in COMMAND_EVENTS:
        return Response("", mimetype="text/plain")
    outcome = process(rt.engine, msg)
    jobs.enqueue(rt, outcome.queued)
    if not outcome.reply.text:
        return Response("", mimetype="text/plain")
    reply = TextReply(
        source=keys.corp_id,
        target=msg.sender,
        content=cdata_safe(clip(outcome.reply.text)),
        time=int(time.time()),
    ).render()
    return Response(keys.encrypt(reply, nonce), mimetype="application/xml")
