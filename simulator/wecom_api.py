"""The stand-in for WeCom's web login (企业微信 OAuth 网页授权): the authorize page and the two API calls behind it.

    GET  /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state&agentid
                                        a page "用企业微信身份登录" listing the corp's members: pick who you are
    POST /connect/oauth2/authorize      (the pick) -> 302 to redirect_uri?code=CODE&state=STATE
    GET  /cgi-bin/gettoken?corpid&corpsecret          -> {"errcode": 0, "access_token", "expires_in"}
    GET  /cgi-bin/auth/getuserinfo?access_token&code  -> {"errcode": 0, "userid", "user_ticket"}, or for someone
                                        outside the corp {"errcode": 0, "openid", "external_userid"}

Tencent's rules that shape our client: a wrong corpid is 40013 and a wrong corpsecret 40001; a token lives 7200 s
and gettoken hands back the same one until then; an unknown token is 40014, an expired one 42001; a code is good
for 5 minutes and once (40029 otherwise). Faults are injected on demand (`inject`, `fail_token`, `slow`,
`expire_tokens`), as in simulator.wechat_api.

    app = create_wecom_api("CORPID", "SECRET", "1000002", members=[("zhangsan", "张三", "朝阳街道指挥中心")])
    api = app.extensions["wecom_api"]           # the WeComApi below: gettoken_calls, received, inject, ...

Beside the WeChat API stand-in, which owns /cgi-bin/ (its /token is the Official Account's; WeCom's is /gettoken):
`install(wechat_api_app)`.

Imports none of our code: only the wire format.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template_string, request

from simulator.faults import FaultControls, Faults

TOKEN_SECONDS = 7200
CODE_SECONDS = 300
MAX_RECEIVED = 1000
# The page's choice for "a WeChat user who is not a member of this corp": getuserinfo answers an openid only.
OUTSIDER = "-outsider-"

ERRMSG = {
    -1: "system error",
    40001: "invalid secret",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40029: "invalid code",
    41001: "access_token missing",
    41004: "corpsecret missing",
    41008: "missing code",
    42001: "access_token expired",
}


@dataclass(frozen=True)
class Member:
    userid: str
    name: str
    post: str = ""  # where they work, as the page labels them


@dataclass
class Code:
    userid: str  # OUTSIDER: someone outside the corp
    issued_at: float
    openid: str = ""


@dataclass
class WeComApi(FaultControls):
    """Everything the stand-in knows, behind one lock: the corp, its app, tokens, codes and what was received."""

    corp_id: str
    secret: str
    agent_id: str = "1000002"
    members: list[Member] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    gettoken_calls: int = 0
    # Every API request as received: {"seq", "path", "query", "errcode"} (secrets shown as ***).
    received: list[dict[str, Any]] = field(default_factory=list)
    _tokens: dict[str, float] = field(default_factory=dict)
    _current: str = ""
    _codes: dict[str, Code] = field(default_factory=dict)
    _seq: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _faults: Faults = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._faults = Faults(self.clock)

    # -- what tests and the page drive ---------------------------------------------------------------------------

    def authorize(self, userid: str) -> str:
        """The member (or OUTSIDER) confirmed who they are on the authorize page: a code for the redirect."""
        with self._lock:
            now = self.clock()
            for old in [c for c, v in self._codes.items() if now - v.issued_at >= CODE_SECONDS]:
                del self._codes[old]
            code = secrets.token_urlsafe(24)
            openid = "oSim" + secrets.token_hex(12) if userid == OUTSIDER else ""
            self._codes[code] = Code(userid, now, openid)
            return code

    def inject(
        self, errcode: int, path_suffix: str | None = None, count: int | None = None, seconds: float | None = None
    ) -> None:
        """Answer `errcode` to requests whose path ends with `path_suffix` (any when None), `count` times (default
        once) or for `seconds`."""
        self._faults.inject(errcode, path_suffix, count, seconds)

    def fail_token(self, errcode: int = -1, count: int | None = None, seconds: float | None = None) -> None:
        self.inject(errcode, "gettoken", count, seconds)

    def slow(self, seconds: float) -> None:
        """Hold every API request this long before answering; 0 stops it."""
        self._faults.slow(seconds)

    def expire_tokens(self) -> None:
        """Every token issued so far has run out (42001 from now on)."""
        with self._lock:
            now = self.clock()
            self._tokens = dict.fromkeys(self._tokens, now - 1)

    # -- the endpoints' logic ------------------------------------------------------------------------------------

    def receive(self, path: str, query: dict[str, str], handle: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Record the request, hold it if slow, answer an injected fault if one applies, else `handle()`."""
        self._faults.hold(path)
        with self._lock:
            self._seq += 1
            seen = {k: ("***" if k in ("corpsecret", "access_token") else v) for k, v in query.items()}
            record: dict[str, Any] = {"seq": self._seq, "path": path, "query": seen, "errcode": None}
            self.received.append(record)
            del self.received[:-MAX_RECEIVED]
            injected = self._faults.take(path)
            result = error(injected) if injected is not None else handle()
            record["errcode"] = result.get("errcode", 0)
            return result

    def gettoken(self, corpid: str, corpsecret: str) -> dict[str, Any]:
        with self._lock:
            if corpid != self.corp_id:
                return error(40013)
            if not corpsecret:
                return error(41004)
            if not secrets.compare_digest(corpsecret.encode(), self.secret.encode()):
                return error(40001)
            self.gettoken_calls += 1
            now = self.clock()
            # WeCom: within its validity, gettoken hands back the same token (unlike the Official Account's /token).
            remaining = self._tokens.get(self._current, 0) - now
            if remaining <= 0:
                self._current = "SIMWW_" + secrets.token_urlsafe(48)
                self._tokens[self._current] = now + TOKEN_SECONDS
                remaining = TOKEN_SECONDS
            return {"errcode": 0, "errmsg": "ok", "access_token": self._current, "expires_in": int(remaining)}

    def getuserinfo(self, access_token: str, code: str) -> dict[str, Any]:
        with self._lock:
            if failure := self._check_token(access_token):
                return failure
            if not code:
                return error(41008)
            found = self._codes.pop(code, None)  # once, whatever the outcome
            if found is None or self.clock() - found.issued_at >= CODE_SECONDS:
                return error(40029)
            ticket = secrets.token_urlsafe(32)
            if found.userid == OUTSIDER:
                return {"errcode": 0, "errmsg": "ok", "openid": found.openid, "external_userid": ""}
            return {"errcode": 0, "errmsg": "ok", "userid": found.userid, "user_ticket": ticket, "expires_in": 1800}

    def _check_token(self, access_token: str) -> dict[str, Any] | None:
        if not access_token:
            return error(41001)
        expires_at = self._tokens.get(access_token)
        if expires_at is None:
            return error(40014)
        if self.clock() >= expires_at:
            return error(42001)
        return None


def error(errcode: int) -> dict[str, Any]:
    hint = secrets.token_hex(12)
    more = f"more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"
    return {"errcode": errcode, "errmsg": f"{ERRMSG.get(errcode, 'error')}, hint: [{hint}], {more}"}


def _api() -> WeComApi:
    return current_app.extensions["wecom_api"]


api_blueprint = Blueprint("wecom_api", __name__, url_prefix="/cgi-bin")
oauth_blueprint = Blueprint("wecom_oauth", __name__, url_prefix="/connect/oauth2")


@api_blueprint.get("/gettoken")
def gettoken() -> Response:
    api, args = _api(), request.args
    return jsonify(
        api.receive(
            "/cgi-bin/gettoken", dict(args), lambda: api.gettoken(args.get("corpid", ""), args.get("corpsecret", ""))
        )
    )


@api_blueprint.get("/auth/getuserinfo")
def getuserinfo() -> Response:
    api, args = _api(), request.args
    return jsonify(
        api.receive(
            "/cgi-bin/auth/getuserinfo",
            dict(args),
            lambda: api.getuserinfo(args.get("access_token", ""), args.get("code", "")),
        )
    )


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>用企业微信身份登录</title>
<style>
 body{font-family:sans-serif;background:#f2f3f5;margin:0;padding:24px}
 main{max-width:420px;margin:auto;background:#fff;border-radius:8px;padding:20px}
 h1{font-size:20px;margin:0 0 8px} p{color:#555;font-size:14px} .error{color:#c0392b}
 button{display:block;width:100%;text-align:left;margin:6px 0;padding:10px;border:1px solid #ddd;border-radius:6px;
 background:#fff;font-size:15px;cursor:pointer} button:hover{border-color:#07c160} small{color:#888}
</style></head><body><main>
<h1>用企业微信身份登录</h1>
{% if problem %}<p class="error">{{ problem }}</p>{% else %}
<p>模拟器：选择你是谁（企业 {{ corp_id }} 的成员），确认后回到网格通。</p>
<form method="post">
{% for name, value in query %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
{% for m in members %}<button name="userid" value="{{ m.userid }}">{{ m.name }} <small>{{ m.userid }}
{% if m.post %} · {{ m.post }}{% endif %}</small></button>{% endfor %}
<button name="userid" value="{{ outsider }}">不是本企业成员的微信用户 <small>只有 openid</small></button>
</form>{% endif %}
</main></body></html>"""


@oauth_blueprint.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response | tuple[str, int] | str:
    api = _api()
    source = request.form if request.method == "POST" else request.args
    query = [(k, v) for k, v in source.items() if k != "userid"]
    fields = dict(query)
    problem = _check_request(api, fields)
    if problem:
        return render_template_string(PAGE, problem=problem), 400
    if request.method == "GET":
        return render_template_string(
            PAGE, problem="", query=query, members=api.members, corp_id=api.corp_id, outsider=OUTSIDER
        )
    userid = request.form.get("userid", "")
    if userid != OUTSIDER and userid not in {m.userid for m in api.members}:
        return render_template_string(PAGE, problem="没有这个成员，请返回重新选择。"), 400
    back = {"code": api.authorize(userid)}
    if fields.get("state"):
        back["state"] = fields["state"]
    return redirect(with_query(fields["redirect_uri"], back), 302)  # type: ignore[return-value]


def _check_request(api: WeComApi, fields: dict[str, str]) -> str:
    """Tencent's own refusals, in the words its page uses."""
    if fields.get("appid") != api.corp_id:
        return f"参数错误：appid 不是本企业的 CorpID（{api.corp_id}）。"
    if fields.get("response_type") != "code" or fields.get("scope") not in ("snsapi_base", "snsapi_privateinfo"):
        return "参数错误：response_type 应为 code，scope 应为 snsapi_base 或 snsapi_privateinfo。"
    if fields.get("agentid") and fields["agentid"] != api.agent_id:
        return f"参数错误：agentid 不是本企业的应用（{api.agent_id}）。"
    if urlsplit(fields.get("redirect_uri", "")).scheme not in ("http", "https"):
        return "参数错误：redirect_uri 应为 http 或 https 网址。"
    return ""


def with_query(url: str, extra: dict[str, str]) -> str:
    """The URL with these parameters added to its query (where an authorize page sends the browser back)."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *extra.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def install(app: Flask, api: WeComApi) -> WeComApi:
    """Answer /cgi-bin/gettoken, /cgi-bin/auth/getuserinfo and /connect/oauth2/authorize from `app` too."""
    app.extensions["wecom_api"] = api
    app.register_blueprint(api_blueprint)
    app.register_blueprint(oauth_blueprint)
    return api


def create_wecom_api(corp_id: str, secret: str, agent_id: str = "1000002", **options: Any) -> Flask:
    """The stand-in as a WSGI app; its state is `app.extensions["wecom_api"]` (options: members, clock)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    members = [m if isinstance(m, Member) else Member(*m) for m in options.pop("members", [])]
    install(app, WeComApi(corp_id, secret, agent_id, members=members, **options))
    return app
