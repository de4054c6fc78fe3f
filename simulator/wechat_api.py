"""The stand-in for api.weixin.qq.com/cgi-bin: access tokens, customer-service and template messages.

It keeps Tencent's rules that shape our client (each `/token` call invalidates the previous token and counts
against a daily quota; `stable_token` does not invalidate others unless forced; customer-service messages only
within 48 h of the user's last message and at most 5 of them; unsubscribed users refuse everything) and answers
HTTP 200 with a JSON `errcode`, as Tencent does. Faults are injected on demand (`inject`, `slow`).

    app = create_wechat_api(appid, secret)
    api = app.extensions["wechat_api"]      # the WeChatApi below: user_messaged, unsubscribe, sent, inject, ...

Imports none of our code: only the wire format.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from simulator.faults import FaultControls, Faults

TOKEN_SECONDS = 7200
# A non-forced stable_token call returns the current token until it is this close to expiry.
STABLE_RENEW_SECONDS = 300
CUSTOM_WINDOW_SECONDS = 48 * 3600
CUSTOM_PER_WINDOW = 5
# The request transcript is for looking back at the last few exchanges; a long-running page must not grow forever.
MAX_RECEIVED = 1000
# Template keyword types and the most characters Tencent accepts in each (longer values: 47003).
FIELD_LIMITS = {"thing": 20, "phrase": 5, "character_string": 32, "number": 32, "letter": 32}

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    47003: "argument invalid!",
}


@dataclass
class User:
    last_message_at: float | None = None
    custom_since_message: int = 0
    subscribed: bool = True


@dataclass
class WeChatApi(FaultControls):
    """Everything the stand-in knows, behind one lock: tokens, users, what was received and delivered."""

    appid: str
    secret: str
    token_quota: int = 2000
    force_refresh_quota: int = 20
    clock: Callable[[], float] = time.time
    token_calls: int = 0
    stable_token_calls: int = 0
    force_refreshes: int = 0
    # Every request as received: {"seq", "path", "body", "errcode"}.
    received: list[dict[str, Any]] = field(default_factory=list)
    # Delivered messages: {"seq", "kind": "custom" | "template", "openid", "body", "msgid", "at"}.
    delivered: list[dict[str, Any]] = field(default_factory=list)
    _tokens: dict[str, float] = field(default_factory=dict)
    _plain_token: str = ""
    _stable_token: str = ""
    _users: dict[str, User] = field(default_factory=dict)
    _seq: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _faults: Faults = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._faults = Faults(self.clock)

    # -- what tests and the page drive ---------------------------------------------------------------------------

    def user_messaged(self, openid: str, at: datetime | float | None = None) -> None:
        """The user wrote to the account (at `at`, default now): the 48-hour window and its count restart."""
        when = self.clock() if at is None else at.timestamp() if isinstance(at, datetime) else float(at)
        with self._lock:
            user = self._user(openid)
            user.last_message_at, user.custom_since_message, user.subscribed = when, 0, True

    def unsubscribe(self, openid: str) -> None:
        with self._lock:
            self._user(openid).subscribed = False

    def subscribe(self, openid: str) -> None:
        with self._lock:
            self._user(openid).subscribed = True

    def inject(
        self, errcode: int, path_suffix: str | None = None, count: int | None = None, seconds: float | None = None
    ) -> None:
        """Answer `errcode` to requests whose path ends with `path_suffix` (any when None), `count` times
        (default once) or for `seconds`. Nothing is recorded as delivered while a fault answers."""
        self._faults.inject(errcode, path_suffix, count, seconds)

    def slow(self, seconds: float, path_suffix: str | None = None) -> None:
        """Hold every request (or those ending with `path_suffix`) this long before answering; 0 stops it."""
        self._faults.slow(seconds, path_suffix)

    def sent(self, openid: str | None = None) -> list[dict[str, Any]]:
        """Messages delivered (to `openid`, or to anyone), in order."""
        with self._lock:
            return [dict(r) for r in self.delivered if openid is None or r["openid"] == openid]

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as after a long pause or a secret reset)."""
        with self._lock:
            now = self.clock()
            self._tokens = dict.fromkeys(self._tokens, now - 1)

    # The page's fault buttons (simulator.server.INJECTIONS), in its words.
    def fail_sends(self, errcode: int = -1, count: int | None = None, seconds: float | None = None) -> None:
        self.inject(errcode, "/send", count, seconds)

    def fail_token(self, errcode: int = -1, count: int | None = None, seconds: float | None = None) -> None:
        self.inject(errcode, "token", count, seconds)

    def expire_token(self) -> None:
        self.expire_tokens()

    # -- the endpoints' logic ------------------------------------------------------------------------------------

    def receive(self, path: str, body: Any, handle: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Record the request, hold it if slow, answer an injected fault if one applies, else `handle()`."""
        self._faults.hold(path)
        with self._lock:
            self._seq += 1
            record: dict[str, Any] = {"seq": self._seq, "path": path, "body": body, "errcode": None}
            self.received.append(record)
            del self.received[:-MAX_RECEIVED]
            injected = self._faults.take(path)
        result = error(injected) if injected is not None else handle()
        with self._lock:
            record["errcode"] = result.get("errcode", 0)
        return result

    def token(self, grant_type: str, appid: str, secret: str) -> dict[str, Any]:
        with self._lock:
            if failure := self._credentials(grant_type, appid, secret):
                return failure
            self.token_calls += 1
            if self.token_calls > self.token_quota:
                return error(45009)
            # Tencent: a new /token invalidates the previous one (stable tokens are a separate series).
            self._tokens.pop(self._plain_token, None)
            self._plain_token = self._issue()
            return {"access_token": self._plain_token, "expires_in": TOKEN_SECONDS}

    def stable_token(self, grant_type: str, appid: str, secret: str, force_refresh: bool) -> dict[str, Any]:
        with self._lock:
            if failure := self._credentials(grant_type, appid, secret):
                return failure
            self.stable_token_calls += 1
            now = self.clock()
            remaining = self._tokens.get(self._stable_token, 0) - now
            if force_refresh:
                self.force_refreshes += 1
                if self.force_refreshes > self.force_refresh_quota:
                    return error(45009)
                self._tokens.pop(self._stable_token, None)
            elif remaining > STABLE_RENEW_SECONDS:
                return {"access_token": self._stable_token, "expires_in": int(remaining)}
            self._stable_token = self._issue()
            return {"access_token": self._stable_token, "expires_in": TOKEN_SECONDS}

    def custom_send(self, access_token: str, body: Any) -> dict[str, Any]:
        with self._lock:
            if failure := self._check_token(access_token) or _check_body(body):
                return failure
            openid = body.get("touser")
            if not openid or not isinstance(openid, str):
                return error(40003)
            if body.get("msgtype") == "text" and not str((body.get("text") or {}).get("content") or "").strip():
                return error(44004)
            user = self._user(openid)
            if not user.subscribed:
                return error(43004)
            if user.last_message_at is None or self.clock() - user.last_message_at > CUSTOM_WINDOW_SECONDS:
                return error(45015)
            if user.custom_since_message >= CUSTOM_PER_WINDOW:
                return error(45047)
            user.custom_since_message += 1
            self._deliver("custom", openid, body)
            return {"errcode": 0, "errmsg": "ok"}

    def template_send(self, access_token: str, body: Any) -> dict[str, Any]:
        with self._lock:
            if failure := self._check_token(access_token) or _check_body(body):
                return failure
            openid = body.get("touser")
            if not openid or not isinstance(openid, str):
                return error(40003)
            if not body.get("template_id"):
                return error(40037)
            data = body.get("data")
            if not isinstance(data, dict) or (failure := _check_fields(data)):
                return failure or error(47001)
            if not self._user(openid).subscribed:
                return error(43004)
            msgid = self._deliver("template", openid, body)
            return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    # -- helpers --------------------------------------------------------------------------------------------------

    def _user(self, openid: str) -> User:
        return self._users.setdefault(openid, User())

    def _issue(self) -> str:
        token = "SIM_" + secrets.token_urlsafe(48)
        self._tokens[token] = self.clock() + TOKEN_SECONDS
        return token

    def _credentials(self, grant_type: str, appid: str, secret: str) -> dict[str, Any] | None:
        if grant_type != "client_credential":
            return error(40002)
        if appid != self.appid:
            return error(40013)
        if not secrets.compare_digest(secret.encode(), self.secret.encode()):
            return error(40125)
        return None

    def _check_token(self, access_token: str) -> dict[str, Any] | None:
        if not access_token:
            return error(41001)
        expires_at = self._tokens.get(access_token)
        if expires_at is None:
            return error(40001)
        if self.clock() >= expires_at:
            return error(42001)
        return None

    def _deliver(self, kind: str, openid: str, body: dict[str, Any]) -> int:
        self._seq += 1
        self.delivered.append(
            {"seq": self._seq, "kind": kind, "openid": openid, "body": body, "msgid": self._seq, "at": self.clock()}
        )
        return self._seq


def error(errcode: int) -> dict[str, Any]:
    rid = secrets.token_hex(12)
    return {"errcode": errcode, "errmsg": f"{ERRMSG.get(errcode, 'error')} rid: {rid}"}


def _check_body(body: Any) -> dict[str, Any] | None:
    return None if isinstance(body, dict) else error(47001)


def _check_fields(data: dict[str, Any]) -> dict[str, Any] | None:
    for key, item in data.items():
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            return error(47001)
        kind = key.rstrip("0123456789")
        if kind in FIELD_LIMITS and len(item["value"]) > FIELD_LIMITS[kind]:
            return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value exceeds limit"}
    return None


def _api() -> WeChatApi:
    return current_app.extensions["wechat_api"]


def _body() -> Any:
    return request.get_json(force=True, silent=True)


blueprint = Blueprint("wechat_api", __name__, url_prefix="/cgi-bin")


@blueprint.get("/token")
def token() -> Response:
    api, args = _api(), request.args
    seen = {k: ("***" if k == "secret" else v) for k, v in args.items()}
    return jsonify(
        api.receive(
            "/cgi-bin/token",
            seen,
            lambda: api.token(args.get("grant_type", ""), args.get("appid", ""), args.get("secret", "")),
        )
    )


@blueprint.post("/stable_token")
def stable_token() -> Response:
    api, body = _api(), _body()
    seen = {k: ("***" if k == "secret" else v) for k, v in body.items()} if isinstance(body, dict) else body

    def handle() -> dict[str, Any]:
        if not isinstance(body, dict):
            return error(47001)
        grant_type, appid, secret = (str(body.get(k, "")) for k in ("grant_type", "appid", "secret"))
        return api.stable_token(grant_type, appid, secret, force_refresh=body.get("force_refresh") in (True, "true", 1))

    return jsonify(api.receive("/cgi-bin/stable_token", seen, handle))


@blueprint.post("/message/custom/send")
def custom_send() -> Response:
    api, body, access_token = _api(), _body(), request.args.get("access_token", "")
    return jsonify(api.receive("/cgi-bin/message/custom/send", body, lambda: api.custom_send(access_token, body)))


@blueprint.post("/message/template/send")
def template_send() -> Response:
    api, body, access_token = _api(), _body(), request.args.get("access_token", "")
    return jsonify(api.receive("/cgi-bin/message/template/send", body, lambda: api.template_send(access_token, body)))


def create_wechat_api(appid: str, secret: str, **options: Any) -> Flask:
    """The stand-in as a WSGI app; its state is `app.extensions["wechat_api"]` (options: token_quota, clock, ...)."""
    app = Flask(__name__)
    app.extensions["wechat_api"] = WeChatApi(appid, secret, **options)
    app.register_blueprint(blueprint)
    return app
