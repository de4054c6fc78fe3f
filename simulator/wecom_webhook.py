"""The stand-in for qyapi.weixin.qq.com/cgi-bin/webhook/send: WeCom's group robot (群机器人).

It keeps Tencent's rules that shape our client: only registered keys post (93000 otherwise), at most 20 messages
in any 60 seconds per robot (45009 beyond), text content at most 2048 bytes and markdown at most 4096 bytes of
UTF-8 (40058 beyond). It answers HTTP 200 with a JSON `errcode`, as Tencent does. A robot only sends: there is
nothing to receive. Faults are injected on demand (`fail_sends`, `slow`).

    app = create_wecom_webhook()
    hub = app.extensions["wecom_webhook"]        # the WeComWebhook below: register_key, sent, fail_sends, ...
    hub.register_key("KEY", "幸福小区第1网格群")

Beside the WeChat API stand-in, under the same /cgi-bin/ prefix: `install(wechat_api_app)`.

Imports none of our code: only the wire format.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from simulator.faults import FaultControls, Faults

# Tencent's documented limits for one robot.
PER_WINDOW = 20
WINDOW_SECONDS = 60.0
CONTENT_LIMITS = {"text": 2048, "markdown": 4096}
MAX_RECEIVED = 1000

ERRMSG = {
    -1: "system error",
    40008: "invalid message type",
    # Tencent's wording for markdown; we assume text gets the same code with its own limit.
    40058: "{msgtype}.content exceed max length {limit}. invalid Request Parameter",
    44004: "empty content",
    45009: "api freq out of limit",
    47001: "data format error",
    93000: "invalid webhook url",
}


@dataclass
class WeComWebhook(FaultControls):
    """Everything the stand-in knows, behind one lock: robots, what was received and what each group got."""

    per_window: int = PER_WINDOW
    window_seconds: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.time
    # Every request as received: {"seq", "key", "body", "errcode"}.
    received: list[dict[str, Any]] = field(default_factory=list)
    # Messages the groups got: {"seq", "key", "chat", "msgtype", "content", "body", "at"}.
    delivered: list[dict[str, Any]] = field(default_factory=list)
    _chats: dict[str, str] = field(default_factory=dict)
    _recent: dict[str, deque[float]] = field(default_factory=dict)
    _seq: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _faults: Faults = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._faults = Faults(self.clock)

    # -- what tests and the page drive ---------------------------------------------------------------------------

    def register_key(self, key: str, chat_name: str = "") -> None:
        """A robot added to a group (群设置 → 群机器人): its webhook key now posts there."""
        with self._lock:
            self._chats[key] = chat_name or key

    def remove_key(self, key: str) -> None:
        """The robot was removed from its group: its key answers 93000 from now on."""
        with self._lock:
            self._chats.pop(key, None)

    def fail_sends(self, errcode: int = -1, count: int | None = None, seconds: float | None = None) -> None:
        """Answer `errcode` to sends, `count` times (default once) or for `seconds`; nothing is delivered."""
        self._faults.inject(errcode, count=count, seconds=seconds)

    def slow(self, seconds: float) -> None:
        """Hold every request this long before answering; 0 stops it."""
        self._faults.slow(seconds)

    def sent(self, key: str | None = None) -> list[dict[str, Any]]:
        """Messages delivered through `key` (or through any robot), in order."""
        with self._lock:
            return [dict(r) for r in self.delivered if key is None or r["key"] == key]

    # -- the endpoint's logic ------------------------------------------------------------------------------------

    def receive(self, key: str, body: Any) -> dict[str, Any]:
        """Record the request, hold it if slow, answer an injected fault if one applies, else send."""
        self._faults.hold()
        with self._lock:
            self._seq += 1
            record: dict[str, Any] = {"seq": self._seq, "key": key, "body": body, "errcode": None}
            self.received.append(record)
            del self.received[:-MAX_RECEIVED]
            injected = self._faults.take()
            result = error(injected) if injected is not None else self._send(key, body)
            record["errcode"] = result["errcode"]
            return result

    def _send(self, key: str, body: Any) -> dict[str, Any]:
        if key not in self._chats:
            return error(93000)
        if not isinstance(body, dict):
            return error(47001)
        msgtype = body.get("msgtype")
        if msgtype not in CONTENT_LIMITS:
            return error(40008)
        message = body.get(msgtype)
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            return error(47001)
        if not content:
            return error(44004)
        limit = CONTENT_LIMITS[msgtype]
        if len(content.encode()) > limit:
            return error(40058, msgtype=msgtype, limit=limit)
        now = self.clock()
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - self.window_seconds:
            recent.popleft()
        if len(recent) >= self.per_window:
            return error(45009)
        recent.append(now)
        self._seq += 1
        self.delivered.append(
            {
                "seq": self._seq,
                "key": key,
                "chat": self._chats[key],
                "msgtype": msgtype,
                "content": content,
                "body": body,
                "at": now,
            }
        )
        return {"errcode": 0, "errmsg": "ok"}


def error(errcode: int, **details: Any) -> dict[str, Any]:
    hint = secrets.token_hex(12)
    text = ERRMSG.get(errcode, "error").format(**details) if details else ERRMSG.get(errcode, "error")
    more = f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    return {"errcode": errcode, "errmsg": f"{text}, hint: [{hint}], {more}"}


blueprint = Blueprint("wecom_webhook", __name__, url_prefix="/cgi-bin")


@blueprint.post("/webhook/send")
def send() -> Response:
    hub: WeComWebhook = current_app.extensions["wecom_webhook"]
    return jsonify(hub.receive(request.args.get("key", ""), request.get_json(force=True, silent=True)))


def install(app: Flask, hub: WeComWebhook | None = None) -> WeComWebhook:
    """Answer /cgi-bin/webhook/send from `app` too (e.g. the WeChat API stand-in, which owns /cgi-bin/)."""
    hub = hub or WeComWebhook()
    app.extensions["wecom_webhook"] = hub
    app.register_blueprint(blueprint)
    return hub


def create_wecom_webhook(**options: Any) -> Flask:
    """The stand-in as a WSGI app; its state is `app.extensions["wecom_webhook"]` (options: per_window,
    window_seconds, clock)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    install(app, WeComWebhook(**options))
    return app
