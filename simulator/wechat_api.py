"""The stand-in for api.weixin.qq.com: the Official Account's and the mini-program's APIs, and the Official
Account's web login page (open.weixin.qq.com's authorize page).

    POST /cgi-bin/stable_token, GET /cgi-bin/token     an access token, for either app (its own appid and secret)
    POST /cgi-bin/message/custom/send, .../template/send   the Official Account's notices
    GET  /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code
                                        a wx.login code (the mini-program's appid and secret)
                                        -> {"openid", "session_key"[, "unionid"]}
    POST /cgi-bin/message/subscribe/send?access_token  {"touser", "template_id", "data"[, "page",
                                        "miniprogram_state"]}: the mini-program's subscribe message; spends one of
                                        the user's acceptances of that template (43101 with none)
    POST /wxa/business/getuserphonenumber?access_token  {"code"} -> {"errcode": 0, "phone_info": {...}}
    POST /wxa/msg_sec_check?access_token  {"version": 2, "openid", "scene", "content"}
                                        -> {"errcode": 0, "result": {"suggest", "label"}, "detail", "trace_id"}
    POST /wxa/media_check_async?access_token  {"media_url", "media_type", "version": 2, "scene", "openid"}
                                        -> {"errcode": 0, "errmsg": "ok", "trace_id"}; then, after
                                        `media_check_delay` seconds, the signed event wxa_media_check is POSTed
                                        (JSON, 明文模式) to `mp_push_url` with `mp_push_token` (nothing is fetched:
                                        the verdict is the next one `media_verdict` set, else pass)
    GET  /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code
                                        an authorize-page code (the Official Account's appid and secret)
                                        -> {"access_token", "expires_in", "refresh_token", "openid", "scope"
                                            [, "unionid"]}
    GET  /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope=snsapi_base&state
                                        for the Official Account's appid: a page to pick which user you are, then
                                        302 to redirect_uri?code=CODE&state=STATE (WeCom's stand-in,
                                        simulator.wecom_api, answers the same path for its corp id)

It keeps Tencent's rules that shape our clients (each `/token` call invalidates the previous token and counts
against a daily quota; `stable_token` does not invalidate others unless forced; each app's tokens are its own;
customer-service messages only within 48 h of the user's last message and at most 5 of them; unsubscribed users
refuse everything; wx.login, phone and authorize-page codes are good once, for 5 minutes; `msg_sec_check` answers
errcode 0 and its verdict in `result`) and answers HTTP 200 with a JSON `errcode`, as Tencent does. Faults are
injected on demand (`inject`, `slow`). What Tencent's clients would hand our apps comes from the control methods:
`wx_login` (the code wx.login gives the mini-program), `phone_code` (the code of getPhoneNumber's button),
`oa_authorize` (the code the authorize page sends back), `media_verdict` (what the next photo checks will find)
and `accept_subscribe` (what the user's "允许" in
wx.requestSubscribeMessage tells Tencent: one message each); simulator.server serves them under /sim/.

    app = create_wechat_api(appid, secret, mp_appid=..., mp_secret=...)
    api = app.extensions["wechat_api"]      # the WeChatApi below: user_messaged, wx_login, sent, inject, ...

Imports none of our code: only the wire format.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template_string, request

from simulator.faults import FaultControls, Faults
from simulator.wecom_api import with_query

TOKEN_SECONDS = 7200
# A non-forced stable_token call returns the current token until it is this close to expiry.
STABLE_RENEW_SECONDS = 300
CUSTOM_WINDOW_SECONDS = 48 * 3600
CUSTOM_PER_WINDOW = 5
# wx.login, phone-number and authorize-page codes are good once, for this long.
CODE_SECONDS = 300
# The request transcript is for looking back at the last few exchanges; a long-running page must not grow forever.
MAX_RECEIVED = 1000
# Template keyword types and the most characters Tencent accepts in each (longer values: 47003).
FIELD_LIMITS = {"thing": 20, "phrase": 5, "character_string": 32, "number": 32, "letter": 32}
# msg_sec_check's word list: a word -> the verdict on content containing it (suggest, label). Label 20001 is
# Tencent's 时政, 21000 其他; content without any of the words passes with PASS_LABEL (正常).
FLAGGED_WORDS = {"违禁词": ("risky", 20001), "待审词": ("review", 21000)}
PASS_LABEL = 100
# subscribe/send's miniprogram_state values (Tencent's default: formal).
MINIPROGRAM_STATES = ("developer", "trial", "formal")
# msg_sec_check's scenes: 1 资料, 2 评论, 3 论坛, 4 社交日志 (others: 40129); at most 2,500 characters.
SCENES = (1, 2, 3, 4)
MAX_CONTENT = 2500
# media_check_async's media types (1 audio, 2 image) and the verdicts media_verdict may set (with their labels).
MEDIA_TYPES = (1, 2)
MEDIA_LABELS = {"pass": 100, "review": 21000, "risky": 20002}
# WeChat tries a push 3 times in all when it gets no "success".
PUSH_TRIES = 3
# The authorize page's openid field starts with the demo's resident.
DEMO_OPENID = "sim-resident-wang"
AUTHORIZE_PATH = "/connect/oauth2/authorize"
# Set by the simulator page on its phone frame: whose WeChat the frame is (snsapi_base then asks nothing, as in WeChat).
PHONE_OWNER_COOKIE = "sim_wechat_user"
OA_SCOPES = ("snsapi_base", "snsapi_userinfo")
# What the stand-in takes for an openid or unionid from its control methods and its page.
PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40129: "invalid scene",
    40163: "code been used",
    41001: "access_token missing",
    41008: "missing code",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
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
class App:
    """One app's credentials and access tokens: the Official Account and the mini-program each have their own."""

    appid: str
    secret: str
    token_calls: int = 0
    stable_token_calls: int = 0
    force_refreshes: int = 0
    tokens: dict[str, float] = field(default_factory=dict)  # token -> when it expires
    plain_token: str = ""
    stable_token: str = ""


@dataclass
class Code:
    """A code a Tencent client handed to an app (wx.login, the phone-number button, the authorize page)."""

    value: str  # who or what it stands for: an openid, a phone number
    issued_at: float
    unionid: str = ""
    scope: str = ""
    used: bool = False


@dataclass
class WeChatApi(FaultControls):
    """Everything the stand-in knows, behind one lock: the two apps and their tokens, users, codes, what was
    received and delivered."""

    appid: str
    secret: str
    # The mini-program (小程序): another app, with tokens of its own. Empty: the stand-in has none.
    mp_appid: str = ""
    mp_secret: str = ""
    token_quota: int = 2000
    force_refresh_quota: int = 20
    clock: Callable[[], float] = time.time
    # msg_sec_check's word list (FLAGGED_WORDS): word -> (suggest, label).
    flagged_words: dict[str, tuple[str, int]] = field(default_factory=lambda: dict(FLAGGED_WORDS))
    # The mini-program's message push (消息推送): where media_check_async's verdicts go, signed with this token.
    # Empty URL: no verdict is ever pushed.
    mp_push_url: str = ""
    mp_push_token: str = ""
    # Seconds between a media check and its verdict's push (Tencent: up to 30 minutes).
    media_check_delay: float = 1.0
    # Every push tried: {"trace_id", "event", "status", "answer"} (status 0: no answer at all).
    pushed: list[dict[str, Any]] = field(default_factory=list)
    # Every request as received: {"seq", "path", "body", "errcode"}.
    received: list[dict[str, Any]] = field(default_factory=list)
    # Delivered messages: {"seq", "kind": "custom" | "template" | "subscribe", "openid", "body", "msgid", "at"}.
    delivered: list[dict[str, Any]] = field(default_factory=list)
    _apps: dict[str, App] = field(init=False, repr=False)
    _users: dict[str, User] = field(default_factory=dict)
    _login_codes: dict[str, Code] = field(default_factory=dict)
    _phone_codes: dict[str, Code] = field(default_factory=dict)
    _oauth_codes: dict[str, Code] = field(default_factory=dict)
    # The stand-in gives a person one openid in both apps (so the demo can play the same resident in each) and
    # remembers the unionid one of them was given.
    _unionids: dict[str, str] = field(default_factory=dict)
    _seen: dict[str, None] = field(default_factory=dict)  # openids in the order they appeared
    _session_keys: dict[str, str] = field(default_factory=dict)  # openid -> the latest login's session key
    # (mini-program openid, template id) -> subscribe messages the user still allows (one per acceptance).
    _subscriptions: dict[tuple[str, str], int] = field(default_factory=dict)
    # The verdicts the next media checks will find, in order; then "pass".
    _media_verdicts: list[str] = field(default_factory=list)
    _timers: list[threading.Timer] = field(default_factory=list)
    _seq: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _faults: Faults = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._faults = Faults(self.clock)
        self._apps = {self.appid: App(self.appid, self.secret)}
        if self.mp_appid:
            if self.mp_appid == self.appid:
                raise ValueError("the mini-program needs an appid of its own")
            self._apps[self.mp_appid] = App(self.mp_appid, self.mp_secret)

    @property
    def oa(self) -> App:
        """The Official Account: its token calls, its tokens."""
        return self._apps[self.appid]

    @property
    def mp(self) -> App | None:
        """The mini-program, when the stand-in has one."""
        return self._apps.get(self.mp_appid) if self.mp_appid else None

    # The Official Account's counts, as tests have always read them.
    @property
    def token_calls(self) -> int:
        return self.oa.token_calls

    @property
    def stable_token_calls(self) -> int:
        return self.oa.stable_token_calls

    @property
    def force_refreshes(self) -> int:
        return self.oa.force_refreshes

    # -- what tests and the page drive ---------------------------------------------------------------------------

    def user_messaged(self, openid: str, at: datetime | float | None = None) -> None:
        """The user wrote to the account (at `at`, default now): the 48-hour window and its count restart."""
        when = self.clock() if at is None else at.timestamp() if isinstance(at, datetime) else float(at)
        with self._lock:
            user = self._user(openid)
            user.last_message_at, user.custom_since_message, user.subscribed = when, 0, True
            self._seen[openid] = None

    def unsubscribe(self, openid: str) -> None:
        with self._lock:
            self._user(openid).subscribed = False

    def subscribe(self, openid: str) -> None:
        with self._lock:
            self._user(openid).subscribed = True

    def wx_login(self, openid: str, unionid: str | None = None) -> str:
        """The user `openid` (with `unionid`, when the app is bound to an Open Platform account) called wx.login
        in the mini-program: the code it got, for jscode2session."""
        return self._issue(self._login_codes, openid, self._remember(openid, unionid))

    def phone_code(self, phone: str) -> str:
        """The user tapped the mini-program's getPhoneNumber button and allowed `phone` (11 digits, China's):
        the code it got, for getuserphonenumber."""
        if not re.fullmatch(r"1\d{10}", phone):
            raise ValueError("phone: 11 digits starting with 1")
        return self._issue(self._phone_codes, phone)

    def oa_authorize(self, openid: str, unionid: str | None = None, scope: str = "snsapi_base") -> str:
        """The user `openid` went through the Official Account's authorize page: the code it sent back, for
        sns/oauth2/access_token."""
        if scope not in OA_SCOPES:
            raise ValueError(f"scope: one of {', '.join(OA_SCOPES)}")
        return self._issue(self._oauth_codes, openid, self._remember(openid, unionid), scope)

    def accept_subscribe(self, openid: str, template_ids: list[str]) -> dict[str, int]:
        """The mini-program user `openid` tapped 允许 in wx.requestSubscribeMessage for these templates: one more
        subscribe message each (a template named twice counts once, as in one call of WeChat's). The counts now."""
        _plain(openid, "openid")
        if not isinstance(template_ids, list) or not all(isinstance(t, str) and t for t in template_ids):
            raise ValueError("template_ids: a list of template ids")
        with self._lock:
            for template_id in dict.fromkeys(template_ids):
                self._subscriptions[(openid, template_id)] = self._subscriptions.get((openid, template_id), 0) + 1
            self._seen[openid] = None
            return {t: self._subscriptions[(openid, t)] for t in dict.fromkeys(template_ids)}

    def subscribe_credits(self, openid: str, template_id: str) -> int:
        """Subscribe messages of the template the user still allows."""
        with self._lock:
            return self._subscriptions.get((openid, template_id), 0)

    def session_key(self, openid: str) -> str | None:
        """The session key of the user's latest login (which an app must never hand on or log)."""
        with self._lock:
            return self._session_keys.get(openid)

    def openids_seen(self) -> list[str]:
        """The users seen so far (wrote to the account, logged in, authorized), first seen first."""
        with self._lock:
            return list(self._seen)

    def media_verdict(self, suggest: str, count: int = 1) -> None:
        """The next `count` photo checks find `suggest` ("pass", "review" or "risky")."""
        if suggest not in MEDIA_LABELS or not 1 <= int(count) <= 100:
            raise ValueError("suggest: pass, review or risky; count: 1 to 100")
        with self._lock:
            self._media_verdicts.extend([suggest] * int(count))

    def close(self) -> None:
        """Release held requests and drop the verdicts not yet pushed (a test is ending)."""
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        super().close()

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
        """Every token issued so far, to either app, stops working (as after a long pause or a secret reset)."""
        with self._lock:
            now = self.clock()
            for app in self._apps.values():
                app.tokens = dict.fromkeys(app.tokens, now - 1)

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
            app = self._apps.get(appid)
            if grant_type != "client_credential":
                return error(40002)
            if app is None:
                return error(40013)
            if failure := _check_secret(app, secret):
                return failure
            app.token_calls += 1
            if app.token_calls > self.token_quota:
                return error(45009)
            # Tencent: a new /token invalidates the previous one (stable tokens are a separate series).
            app.tokens.pop(app.plain_token, None)
            app.plain_token = self._issue_token(app)
            return {"access_token": app.plain_token, "expires_in": TOKEN_SECONDS}

    def stable_token(self, grant_type: str, appid: str, secret: str, force_refresh: bool) -> dict[str, Any]:
        with self._lock:
            app = self._apps.get(appid)
            if grant_type != "client_credential":
                return error(40002)
            if app is None:
                return error(40013)
            if failure := _check_secret(app, secret):
                return failure
            app.stable_token_calls += 1
            now = self.clock()
            remaining = app.tokens.get(app.stable_token, 0) - now
            if force_refresh:
                app.force_refreshes += 1
                if app.force_refreshes > self.force_refresh_quota:
                    return error(45009)
                app.tokens.pop(app.stable_token, None)
            elif remaining > STABLE_RENEW_SECONDS:
                return {"access_token": app.stable_token, "expires_in": int(remaining)}
            app.stable_token = self._issue_token(app)
            return {"access_token": app.stable_token, "expires_in": TOKEN_SECONDS}

    def custom_send(self, access_token: str, body: Any) -> dict[str, Any]:
        with self._lock:
            if failure := self._check_token(access_token, self.oa) or _check_body(body):
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
            if failure := self._check_token(access_token, self.oa) or _check_body(body):
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

    def subscribe_send(self, access_token: str, body: Any) -> dict[str, Any]:
        """The mini-program's subscribe message: one of the user's acceptances of the template is spent."""
        with self._lock:
            if failure := self._check_token(access_token, self.mp) or _check_body(body):
                return failure
            openid, template_id = body.get("touser"), body.get("template_id")
            if not isinstance(openid, str) or not openid:
                return error(40003)
            if not isinstance(template_id, str) or not template_id:
                return error(40037)
            data, page, state = body.get("data"), body.get("page", ""), body.get("miniprogram_state", "formal")
            if not isinstance(data, dict) or not data or not isinstance(page, str) or state not in MINIPROGRAM_STATES:
                return error(47003)
            if failure := _check_fields(data):
                return error(47003) if failure["errcode"] == 47001 else failure
            left = self._subscriptions.get((openid, template_id), 0)
            if left <= 0:
                return error(43101)
            self._subscriptions[(openid, template_id)] = left - 1
            msgid = self._deliver("subscribe", openid, body)
            return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def jscode2session(self, appid: str, secret: str, js_code: str, grant_type: str) -> dict[str, Any]:
        """A wx.login code -> who logged in. Success carries no errcode, as Tencent's."""
        with self._lock:
            if failure := self._check_app(self.mp, appid, secret, grant_type) or _code_given(js_code):
                return failure
            found = self._redeem(self._login_codes, js_code, reused=40163)
            if isinstance(found, dict):
                return found
            # A new session key at each login, as Tencent's; what it would decrypt does not exist here.
            key = base64.b64encode(secrets.token_bytes(16)).decode()
            self._session_keys[found.value] = key
            answer = {"session_key": key, "openid": found.value}
            if found.unionid:
                answer["unionid"] = found.unionid
            return answer

    def phone_number(self, access_token: str, body: Any) -> dict[str, Any]:
        with self._lock:
            if failure := self._check_token(access_token, self.mp) or _check_body(body):
                return failure
            code = body.get("code")
            # Tencent's only refusal of a phone code, whatever is wrong with it: unknown, used, expired, missing.
            found = self._redeem(self._phone_codes, code, reused=40029) if isinstance(code, str) else error(40029)
            if isinstance(found, dict):
                return found
            info = {
                "phoneNumber": found.value,
                "purePhoneNumber": found.value,
                "countryCode": "86",
                "watermark": {"timestamp": int(found.issued_at), "appid": self.mp_appid},
            }
            return {"errcode": 0, "errmsg": "ok", "phone_info": info}

    def msg_sec_check(self, access_token: str, body: Any) -> dict[str, Any]:
        """Content safety v2: errcode 0 says the check ran; `result.suggest` says what it found."""
        with self._lock:
            if failure := self._check_token(access_token, self.mp) or _check_body(body):
                return failure
            openid, scene, content = body.get("openid"), body.get("scene"), body.get("content")
            # v1 bodies (content alone) and wrong types are malformed.
            if str(body.get("version")) != "2" or not isinstance(content, str) or not _is_int(scene):
                return error(47001)
            if not isinstance(openid, str) or not openid:
                return error(40003)
            if scene not in SCENES:
                return error(40129)
            if not content:
                return error(44002)
            if len(content) > MAX_CONTENT:
                return error(47001)
            suggest, label, word = self._verdict(content)
            detail: list[dict[str, Any]] = [
                {"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}
            ]
            if word:
                detail.append(
                    {
                        "strategy": "keyword",
                        "errcode": 0,
                        "suggest": suggest,
                        "label": label,
                        "level": 90,
                        "keyword": word,
                    }
                )
            return {
                "errcode": 0,
                "errmsg": "ok",
                "result": {"suggest": suggest, "label": label},
                "detail": detail,
                "trace_id": "-".join(secrets.token_hex(4) for _ in range(3)),
            }

    def media_check_async(self, access_token: str, body: Any) -> dict[str, Any]:
        """Content safety v2 for an image or audio at a URL: a trace_id now, the verdict pushed later."""
        with self._lock:
            if failure := self._check_token(access_token, self.mp) or _check_body(body):
                return failure
            url, media_type, openid, scene = (body.get(k) for k in ("media_url", "media_type", "openid", "scene"))
            if str(body.get("version")) != "2" or not _is_int(media_type) or not _is_int(scene):
                return error(47001)
            if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                return error(47001)
            if media_type not in MEDIA_TYPES:
                return error(47001)
            if not isinstance(openid, str) or not openid:
                return error(40003)
            if scene not in SCENES:
                return error(40129)
            trace_id = "-".join(secrets.token_hex(4) for _ in range(3))
            suggest = self._media_verdicts.pop(0) if self._media_verdicts else "pass"
            if self.mp_push_url:
                timer = threading.Timer(self.media_check_delay, self._push, (trace_id, openid, suggest))
                timer.daemon = True
                self._timers = [t for t in self._timers if t.is_alive()] + [timer]
                timer.start()
            return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}

    def oauth2_access_token(self, appid: str, secret: str, code: str, grant_type: str) -> dict[str, Any]:
        """An authorize-page code -> the user's web access token and openid (unionid when they have one)."""
        with self._lock:
            if failure := self._check_app(self.oa, appid, secret, grant_type) or _code_given(code):
                return failure
            found = self._redeem(self._oauth_codes, code, reused=40163)
            if isinstance(found, dict):
                return found
            answer = {
                "access_token": "SIMWEB_" + secrets.token_urlsafe(48),
                "expires_in": TOKEN_SECONDS,
                "refresh_token": "SIMREFRESH_" + secrets.token_urlsafe(48),
                "openid": found.value,
                "scope": found.scope,
            }
            if found.unionid:
                answer["unionid"] = found.unionid
            return answer

    # -- helpers --------------------------------------------------------------------------------------------------

    def _user(self, openid: str) -> User:
        return self._users.setdefault(openid, User())

    def _issue_token(self, app: App) -> str:
        token = "SIM_" + secrets.token_urlsafe(48)
        app.tokens[token] = self.clock() + TOKEN_SECONDS
        return token

    def _check_app(self, app: App | None, appid: str, secret: str, grant_type: str) -> dict[str, Any] | None:
        """The app a code belongs to, asked with its own appid and secret (sns endpoints)."""
        if app is None or appid != app.appid:
            return error(40013)
        if failure := _check_secret(app, secret):
            return failure
        return None if grant_type == "authorization_code" else error(40002)

    def _check_token(self, access_token: str, app: App | None) -> dict[str, Any] | None:
        """A live token of `app`: another app's token is as unknown as a made-up one."""
        if not access_token:
            return error(41001)
        expires_at = app.tokens.get(access_token) if app is not None else None
        if expires_at is None:
            return error(40001)
        if self.clock() >= expires_at:
            return error(42001)
        return None

    def _remember(self, openid: str, unionid: str | None) -> str:
        """Note a user the stand-in met, with the unionid given now or before ("" when none)."""
        _plain(openid, "openid")
        with self._lock:
            if unionid:
                self._unionids[openid] = _plain(unionid, "unionid")
            self._seen[openid] = None
            return self._unionids.get(openid, "")

    def _issue(self, codes: dict[str, Code], value: str, unionid: str = "", scope: str = "") -> str:
        with self._lock:
            now = self.clock()
            for old in [c for c, v in codes.items() if now - v.issued_at >= CODE_SECONDS]:
                del codes[old]
            code = secrets.token_urlsafe(24)
            codes[code] = Code(value, now, unionid, scope)
            return code

    def _redeem(self, codes: dict[str, Code], code: str, reused: int) -> Code | dict[str, Any]:
        """The code's record, now used; or the error: 40029 unknown or expired, `reused` used before."""
        found = codes.get(code)
        if found is None or self.clock() - found.issued_at >= CODE_SECONDS:
            codes.pop(code, None)
            return error(40029)
        if found.used:
            return error(reused)
        found.used = True
        return found

    def _verdict(self, content: str) -> tuple[str, int, str]:
        """(suggest, label, the word that decided it): risky words before review words."""
        hits = [(suggest != "risky", word, suggest, label) for word, (suggest, label) in self.flagged_words.items()]
        found = sorted(hit for hit in hits if hit[1] and hit[1] in content)
        if not found:
            return "pass", PASS_LABEL, ""
        _, word, suggest, label = found[0]
        return suggest, label, word

    def _push(self, trace_id: str, openid: str, suggest: str) -> None:
        """POST the verdict to the message push URL as WeChat does (JSON, 明文模式: the query is signed), up to
        PUSH_TRIES times until the answer is "success"."""
        label = MEDIA_LABELS[suggest]
        event = {
            "ToUserName": "gh_0000000sim0",
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "wxa_media_check",
            "appid": self.mp_appid,
            "trace_id": trace_id,
            "version": 2,
            "result": {"suggest": suggest, "label": label},
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}],
        }
        data = json.dumps(event, ensure_ascii=False).encode()
        for _ in range(PUSH_TRIES):
            status, answer = self._post_event(data)
            with self._lock:
                self.pushed.append({"trace_id": trace_id, "event": event, "status": status, "answer": answer})
                del self.pushed[:-MAX_RECEIVED]
            if status == 200 and answer == "success":
                return

    def _post_event(self, data: bytes) -> tuple[int, str]:
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        signature = hashlib.sha1("".join(sorted((self.mp_push_token, timestamp, nonce))).encode()).hexdigest()
        query = urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce})
        sep = "&" if "?" in self.mp_push_url else "?"
        req = urllib.request.Request(
            f"{self.mp_push_url}{sep}{query}", data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as response:
                return response.status, response.read(64).decode(errors="replace")
        except urllib.error.HTTPError as refused:
            return refused.code, ""
        except (urllib.error.URLError, OSError):
            return 0, ""

    def _deliver(self, kind: str, openid: str, body: dict[str, Any]) -> int:
        self._seq += 1
        self.delivered.append(
            {"seq": self._seq, "kind": kind, "openid": openid, "body": body, "msgid": self._seq, "at": self.clock()}
        )
        return self._seq


def error(errcode: int) -> dict[str, Any]:
    rid = secrets.token_hex(12)
    return {"errcode": errcode, "errmsg": f"{ERRMSG.get(errcode, 'error')} rid: {rid}"}


def _check_secret(app: App, secret: str) -> dict[str, Any] | None:
    return None if secrets.compare_digest(secret.encode(), app.secret.encode()) else error(40125)


def _code_given(code: str) -> dict[str, Any] | None:
    return None if code else error(41008)


def _plain(value: str, name: str) -> str:
    if not PLAIN_ID.fullmatch(value):
        raise ValueError(f"{name}: 1 to 64 letters, digits, - or _")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


def _masked(values: Any) -> Any:
    return {k: ("***" if k == "secret" else v) for k, v in values.items()} if isinstance(values, dict) else values


blueprint = Blueprint("wechat_api", __name__, url_prefix="/cgi-bin")
# Outside /cgi-bin/: the sns and wxa APIs, and the authorize page (a hook, as WeCom's stand-in has the route).
open_blueprint = Blueprint("wechat_open", __name__)


@blueprint.get("/token")
def token() -> Response:
    api, args = _api(), request.args
    return jsonify(
        api.receive(
            "/cgi-bin/token",
            _masked(dict(args)),
            lambda: api.token(args.get("grant_type", ""), args.get("appid", ""), args.get("secret", "")),
        )
    )


@blueprint.post("/stable_token")
def stable_token() -> Response:
    api, body = _api(), _body()

    def handle() -> dict[str, Any]:
        if not isinstance(body, dict):
            return error(47001)
        grant_type, appid, secret = (str(body.get(k, "")) for k in ("grant_type", "appid", "secret"))
        return api.stable_token(grant_type, appid, secret, force_refresh=body.get("force_refresh") in (True, "true", 1))

    return jsonify(api.receive("/cgi-bin/stable_token", _masked(body), handle))


@open_blueprint.get("/sns/jscode2session")
def jscode2session() -> Response:
    api, args = _api(), request.args
    appid, secret, code, grant = (args.get(k, "") for k in ("appid", "secret", "js_code", "grant_type"))
    return jsonify(
        api.receive("/sns/jscode2session", _masked(dict(args)), lambda: api.jscode2session(appid, secret, code, grant))
    )


@open_blueprint.get("/sns/oauth2/access_token")
def oauth2_access_token() -> Response:
    api, args = _api(), request.args
    appid, secret, code, grant = (args.get(k, "") for k in ("appid", "secret", "code", "grant_type"))
    return jsonify(
        api.receive(
            "/sns/oauth2/access_token", _masked(dict(args)), lambda: api.oauth2_access_token(appid, secret, code, grant)
        )
    )


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>微信授权</title>
<style>
 body{font-family:sans-serif;background:#f2f3f5;margin:0;padding:24px}
 main{max-width:420px;margin:auto;background:#fff;border-radius:8px;padding:20px}
 h1{font-size:20px;margin:0 0 8px} p{color:#555;font-size:14px} .error{color:#c0392b}
 label{display:block;font-size:14px;color:#555;margin:10px 0 4px}
 input[type=text]{width:100%;box-sizing:border-box;padding:8px;border:1px solid #ddd;border-radius:6px;font-size:15px}
 button{display:block;width:100%;text-align:left;margin:6px 0;padding:10px;border:1px solid #ddd;border-radius:6px;
 background:#fff;font-size:15px;cursor:pointer} button:hover{border-color:#07c160}
 button.go{background:#07c160;color:#fff;text-align:center;border-color:#07c160}
</style></head><body><main>
<h1>微信授权</h1>
{% if problem %}<p class="error">{{ problem }}</p>{% else %}
<p>模拟器：你是哪位微信用户？确认后回到公众号的网页（{{ appid }}）。</p>
<form method="post">
{% for name, value in query %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<label for="openid">openid</label><input type="text" id="openid" name="openid" value="{{ default }}">
<label for="unionid">unionid（可不填）</label><input type="text" id="unionid" name="unionid" value="">
<button class="go">以这个 openid 进入</button>
{% for openid in seen %}<button name="pick" value="{{ openid }}">{{ openid }}</button>{% endfor %}
</form>{% endif %}
</main></body></html>"""


@open_blueprint.before_app_request
def authorize_page() -> Response | tuple[str, int] | str | None:
    """The authorize page for the Official Account's appid. Another appid goes on to the route of the stand-in
    whose it is (WeCom's corp id: simulator.wecom_api), or, with none, is refused here."""
    if request.path.rstrip("/") != AUTHORIZE_PATH or request.method not in ("GET", "POST"):
        return None
    api = _api()
    source = request.form if request.method == "POST" else request.args
    query = [(k, v) for k, v in source.items() if k not in ("openid", "unionid", "pick")]
    fields = dict(query)
    if fields.get("appid") != api.appid and request.url_rule is not None:
        return None
    if problem := _authorize_problem(api, fields):
        return render_template_string(PAGE, problem=problem), 400
    phone_owner = request.cookies.get(PHONE_OWNER_COOKIE, "").strip()
    if request.method == "GET" and phone_owner and fields["scope"] == "snsapi_base":
        # In WeChat, snsapi_base asks nothing: the page the simulator shows as a resident's phone goes straight back.
        try:
            code = api.oa_authorize(phone_owner, None, fields["scope"])
        except ValueError:
            return render_template_string(PAGE, problem="模拟手机的用户 openid 不对，请在模拟器页面重新选择居民。"), 400
        back = with_query(fields["redirect_uri"], {"code": code, "state": fields.get("state", "")})
        return redirect(back, 302)  # type: ignore[return-value]
    if request.method == "GET":
        seen = api.openids_seen()
        return render_template_string(PAGE, problem="", query=query, appid=api.appid, default=DEMO_OPENID, seen=seen)
    openid = (request.form.get("pick") or request.form.get("openid") or "").strip()
    unionid = request.form.get("unionid", "").strip() or None
    try:
        code = api.oa_authorize(openid, unionid, fields["scope"])
    except ValueError:
        return render_template_string(
            PAGE, problem="openid 或 unionid 不对：只能是字母、数字、- 和 _，请返回重新填写。"
        ), 400
    back = with_query(fields["redirect_uri"], {"code": code, "state": fields.get("state", "")})
    return redirect(back, 302)  # type: ignore[return-value]


def _authorize_problem(api: WeChatApi, fields: dict[str, str]) -> str:
    """Tencent's own refusals, in the words its page uses."""
    if fields.get("appid") != api.appid:
        return f"参数错误：appid 不是公众号的 AppID（{api.appid}）。"
    if fields.get("response_type") != "code" or fields.get("scope") not in OA_SCOPES:
        return "参数错误：response_type 应为 code，scope 应为 snsapi_base 或 snsapi_userinfo。"
    target = urlsplit(fields.get("redirect_uri", ""))
    if target.scheme not in ("http", "https") or not target.netloc:
        return "redirect_uri 参数错误：应为 http 或 https 的完整网址。"
    return ""


# The calls made with an access token and a JSON body: the stand-in's method for each, by path (Tencent's full path
# under the host, and the route on the blueprint that serves it).
TOKEN_CALLS: tuple[tuple[Blueprint, str, str, Callable[[WeChatApi, str, Any], dict[str, Any]]], ...] = (
    (blueprint, "/message/custom/send", "/cgi-bin/message/custom/send", WeChatApi.custom_send),
    (blueprint, "/message/template/send", "/cgi-bin/message/template/send", WeChatApi.template_send),
    (blueprint, "/message/subscribe/send", "/cgi-bin/message/subscribe/send", WeChatApi.subscribe_send),
    (open_blueprint, "/wxa/business/getuserphonenumber", "/wxa/business/getuserphonenumber", WeChatApi.phone_number),
    (open_blueprint, "/wxa/media_check_async", "/wxa/media_check_async", WeChatApi.media_check_async),
    (open_blueprint, "/wxa/msg_sec_check", "/wxa/msg_sec_check", WeChatApi.msg_sec_check),
)


def _token_call(path: str, method: Callable[[WeChatApi, str, Any], dict[str, Any]]) -> Callable[[], Response]:
    def view() -> Response:
        api, body, access_token = _api(), _body(), request.args.get("access_token", "")
        return jsonify(api.receive(path, body, lambda: method(api, access_token, body)))

    return view


for _blueprint, _route, _path, _method in TOKEN_CALLS:
    _blueprint.add_url_rule(_route, _path.strip("/").replace("/", "_"), _token_call(_path, _method), methods=["POST"])


def create_wechat_api(appid: str, secret: str, **options: Any) -> Flask:
    """The stand-in as a WSGI app; its state is `app.extensions["wechat_api"]` (options: mp_appid, mp_secret,
    token_quota, clock, flagged_words, mp_push_url, mp_push_token, media_check_delay, ...)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["wechat_api"] = WeChatApi(appid, secret, **options)
    app.register_blueprint(blueprint)
    app.register_blueprint(open_blueprint)
    return app
