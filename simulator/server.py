"""The browser simulator: one process that is Tencent for a local 网格通, and a page to play it in.

`python -m simulator serve --app-url http://127.0.0.1:5000 --port 5001 --ws-port 5002` starts:

- the WeChat API stand-in (simulator.wechat_api) under `/cgi-bin/`, where the app's workers send residents'
  notices when `WECHAT_API_BASE=http://127.0.0.1:5001/cgi-bin/`; and beside it, for the resident API, the
  mini-program's `/sns/jscode2session`, `/wxa/business/getuserphonenumber`, `/wxa/msg_sec_check` and
  `/wxa/media_check_async` (its AppID config.DEV_MP_APPID, its secret SIM_MP_SECRET: `WECHAT_MP_SECRET`; a photo's
  verdict is pushed, signed with `WECHAT_MP_TOKEN`, to `--mp-push-url`, by default APP_URL/wechat/mp), the
  Official Account's web login `/sns/oauth2/access_token`, and its authorize page at `/connect/oauth2/authorize`
  (`WECHAT_OAUTH_URL`), which lets you pick which user you are;
- WeCom's web login (simulator.wecom_api): `/cgi-bin/gettoken`, `/cgi-bin/auth/getuserinfo` and the authorize page
  `/connect/oauth2/authorize`, where the centre screen's 企业微信登录 goes when `WECOM_API_BASE` and
  `WECOM_OAUTH_URL` point here and `WECOM_APP_SECRET` is SIM_WECOM_APP_SECRET;
- the WeCom AI-bot WebSocket stand-in (simulator.aibot) on `--ws-port`, which `python -m bot.gateway` joins when
  `WECOM_WS_URL`, `WECOM_BOT_ID`, `WECOM_BOT_SECRET` point at it;
- the page at `/`: 居民 (an Official Account chat), 网格群 (the grid groups' WeCom chats, with working card
  buttons) and 指挥中心 (the supervisor's Official Account chat).

Residents and the supervisor reach the app only through the signed (optionally encrypted) `/wechat` callback,
built the way WeChat builds it (simulator.officialaccount); group members only through the AI-bot protocol.

The page polls these JSON endpoints (all loopback, all small):

    GET  /sim/directory                 who can be played: residents, the supervisor, grid chats and members
    GET  /sim/status                    {"app": bool, "gateway": bool, "app_url"}: is the app up, is a gateway on
    POST /sim/oa/say {openid, text, safe}
                                        sign (and with safe, encrypt) a text message, POST it to APP_URL/wechat;
                                        -> {"reply", "ms", "error"}; the exchange lands in that user's timeline
    GET  /sim/oa?openid=X               {"entries": [...]} the user's chat: what they sent, the passive replies and
                                        the notices the WeChat API stand-in delivered to them, in arrival order
    GET  /sim/chats                     {"chats": [{"chat_id", "name", "count"}]} the grid chats (demo/grids.csv)
                                        and the 指挥中心群 (--supervisor-chat); count = entries seen so far
    GET  /sim/chat?chat_id=X            {"entries": [...]} the group: texts, and cards (updated in place)
    POST /sim/chat/say {chat_id, userid, text}
                                        a member @s the bot in the group
    POST /sim/chat/click {chat_id, userid, event_key, task_id}
                                        a member taps a card button
    POST /sim/wx-login {openid, unionid?}
                                        what wx.login gives the mini-program of that user: -> {"code"}, good once
                                        within 5 minutes at /sns/jscode2session
    POST /sim/phone-code {phone}        what the getPhoneNumber button gives it once the user allows `phone` (11
                                        digits): -> {"code"}, good once within 5 minutes
    POST /sim/subscribe {openid, template_ids}
                                        the mini-program user tapped 允许 in wx.requestSubscribeMessage for these
                                        templates: one subscribe message each -> {"credits": {template_id: n}}
    POST /sim/media-verdict {suggest, count?}
                                        what the next photo check(s) (media_check_async) find: "pass", "review"
                                        or "risky" (default: pass) -> {"ok": true}
    POST /sim/inject {"target": "wechat_api" | "aibot" | "wecom_api", "action": NAME, ...}
                                        error injection, passed to the stand-in's method of that name (the list is
                                        INJECTIONS); -> {"ok": true} or 400 with the reason. Examples:
                                        {"target": "wechat_api", "action": "fail_sends", "errcode": 45015}
                                        {"target": "wechat_api", "action": "reset"}
                                        {"target": "aibot", "action": "drop"}   (the gateway reconnects)
                                        {"target": "aibot", "action": "fail_sends", "errcode": 45009, "count": 2}
                                        {"target": "aibot", "action": "slow", "seconds": 3}
                                        {"target": "wecom_api", "action": "fail_token", "errcode": -1}
    /cgi-bin/...                        the WeChat API stand-in itself (token, stable_token, message/*/send), the
                                        group robots (webhook/send) and WeCom's gettoken and auth/getuserinfo
    /sns/..., /wxa/...                  the mini-program's and the Official Account's web login APIs (above)
    /connect/oauth2/authorize           the authorize page, the Official Account's (appid wx...: pick an openid)
                                        or WeCom's (the corp id ww...: pick a member); back to redirect_uri with a
                                        code

A timeline entry is {"seq", "who": "me" | "bot" | "notice" | "system", "text", "time", "sender"}; a group entry
may instead carry {"card": {"task_id", "source", "title", "desc", "fields": [{"key", "value", "url"?}], "note",
"buttons": [{"text", "key", "style"}], "done"}}.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, request, send_from_directory
from werkzeug.serving import make_server

from config import DEV_MP_APPID, ROOT, Settings
from simulator import wecom_api, wecom_webhook
from simulator.aibot import AIBotServer, Limits
from simulator.officialaccount import OfficialAccount
from simulator.wechat_api import WeChatApi, create_wechat_api
from simulator.wecom_api import WeComApi

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_BOT_ID = "sim-bot"
DEFAULT_BOT_SECRET = "sim-bot-secret"
SUPERVISOR_CHAT_ID = "wrk-chat-centre"
# The self-built app's Secret the WeCom login stand-in accepts (devserver gives the app the same WECOM_APP_SECRET).
SIM_WECOM_APP_SECRET = "sim-wecom-app-secret"
# The mini-program's AppSecret the WeChat API stand-in accepts (devserver gives the app the same WECHAT_MP_SECRET).
SIM_MP_SECRET = "sim-mp-secret"
# What the page keeps per chat; a demo never needs more and a forgotten tab never grows without bound.
MAX_ENTRIES = 300
# Which stand-in methods /sim/inject may call: everything else is refused.
INJECTIONS = {
    "wechat_api": {"inject", "fail_sends", "fail_token", "expire_token", "slow", "reset", "unsubscribe", "subscribe"},
    "aibot": {"fail_sends", "slow", "drop"},
    "wecom_api": {"inject", "fail_token", "expire_tokens", "slow", "reset"},
}


# ---------------------------------------------------------------------------------------------------------------
# Who can be played: demo/people.csv and demo/grids.csv, read as files (the simulator imports none of our code).


@dataclass(frozen=True)
class Player:
    id: str  # openid (residents, supervisor) or WeCom userid (members)
    name: str
    grid: str = ""
    address: str = ""
    # Members: where they work, as the page labels them ("朝阳街道指挥中心", "区城管执法局"); grid workers have a grid.
    post: str = ""


@dataclass(frozen=True)
class GridChat:
    code: str
    name: str
    chat_id: str
    worker: str = ""  # the default member who plays in this chat
    bot: str = ""  # the AI bot in this group: its unit's (org.csv bot_id), "" for the default bot


@dataclass
class Directory:
    residents: list[Player] = field(default_factory=list)
    supervisor: Player = field(default_factory=lambda: Player("o-demo-supervisor", "社区指挥中心"))
    members: list[Player] = field(default_factory=list)
    chats: list[GridChat] = field(default_factory=list)

    @classmethod
    def load(cls, demo_dir: Path, supervisor_chat_id: str = SUPERVISOR_CHAT_ID) -> Directory:
        directory = cls()
        workers: dict[str, str] = {}  # grid, unit or department code -> the member who plays in its chat
        units = {row.get("code", ""): row for row in _rows(demo_dir / "org.csv")}
        departments = {row.get("code", ""): row for row in _rows(demo_dir / "departments.csv")}

        def bot_of(code: str) -> str:
            """The bot of the nearest unit at or above `code` that names one (the admin adds it to the group)."""
            seen: set[str] = set()
            while code in units and code not in seen:
                seen.add(code)
                if units[code].get("bot_id"):
                    return units[code]["bot_id"]
                code = units[code].get("parent", "")
            return ""

        for row in _rows(demo_dir / "people.csv"):
            role, ident, name = row.get("role", ""), row.get("id", ""), row.get("name", "")
            channel, _, bare = ident.rpartition(":")
            org = row.get("org", "")
            if role == "resident":
                directory.residents.append(Player(bare, name, row.get("grid", ""), row.get("address", "")))
            elif role == "supervisor" and channel != "wecom":
                directory.supervisor = Player(bare, name or "指挥中心")
            elif role == "grid_worker":
                directory.members.append(Player(bare, name, row.get("grid", "")))
                workers.setdefault(row.get("grid", ""), bare)
            elif role == "supervisor":
                post = f"{units[org]['name']}指挥中心" if org in units else "指挥中心"
                directory.members.append(Player(bare, name, post=post))
                workers.setdefault(org, bare)
            elif role == "department":
                directory.members.append(Player(bare, name, post=departments.get(org, {}).get("name", "部门")))
                workers.setdefault(org, bare)
        for row in _rows(demo_dir / "grids.csv"):
            if row.get("chat_id"):
                code = row.get("code", "")
                chat = GridChat(
                    code, row.get("name", code), row["chat_id"], workers.get(code, ""), bot_of(row.get("org", ""))
                )
                directory.chats.append(chat)
        if supervisor_chat_id:
            centre = next((m.id for m in directory.members if not m.grid), "")
            directory.chats.append(GridChat("", "指挥中心群", supervisor_chat_id, centre))
        # The centres with a group of their own (import-org chat_id) and the departments' groups.
        for code, row in units.items():
            if row.get("chat_id"):
                name = f"{row.get('name', code)}指挥中心群"
                directory.chats.append(GridChat(code, name, row["chat_id"], workers.get(code, ""), bot_of(code)))
        for code, row in departments.items():
            if row.get("chat_id"):
                name = f"{row.get('name', code)}工作群"
                directory.chats.append(
                    GridChat(code, name, row["chat_id"], workers.get(code, ""), bot_of(row.get("org", "")))
                )
        # Someone not on the roster, to show what the bot tells a stranger in the group.
        directory.members.append(Player("visitor", "未登记成员"))
        return directory

    def bots(self) -> list[str]:
        """The bots units name, each one gateway (the default bot is the stand-in's first)."""
        return sorted({c.bot for c in self.chats if c.bot})

    def as_json(self) -> dict[str, Any]:
        return {
            "residents": [asdict(p) for p in self.residents],
            "supervisor": asdict(self.supervisor),
            "members": [asdict(p) for p in self.members],
            "chats": [asdict(c) for c in self.chats],
        }


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [{k: (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]


# ---------------------------------------------------------------------------------------------------------------
# Chats as the page shows them.


@dataclass
class Entry:
    seq: int
    who: str  # me | bot | notice | system
    text: str = ""
    sender: str = ""
    time: str = ""
    card: dict[str, Any] | None = None
    ms: int | None = None
    key: str = ""  # a card's task_id or a stream's id: a later record with the same key updates this entry


class Log:
    """Per-chat entries in arrival order; an entry with a key keeps its first place and updates there (WeCom's
    card updates and streamed replies)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._chats: dict[str, list[Entry]] = {}

    def add(self, chat: str, who: str, text: str = "", at: float | None = None, **extra: Any) -> None:
        with self._lock:
            self._add(chat, who, text, at, **extra)

    def put(self, chat: str, key: str, who: str, text: str = "", at: float | None = None, **extra: Any) -> None:
        with self._lock:
            for entry in self._chats.get(chat, []):
                if entry.key == key:
                    entry.text = text
                    entry.card = extra.get("card", entry.card)
                    return
            self._add(chat, who, text, at, key=key, **extra)

    def _add(self, chat: str, who: str, text: str, at: float | None, **extra: Any) -> None:
        self._seq += 1
        clock = time.strftime("%H:%M:%S", time.localtime(at))
        entries = self._chats.setdefault(chat, [])
        entries.append(Entry(self._seq, who, text, time=clock, **extra))
        del entries[:-MAX_ENTRIES]

    def entries(self, chat: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {k: v for k, v in asdict(e).items() if v not in (None, "") and k != "key"}
                for e in self._chats.get(chat, [])
            ]

    def chats(self) -> dict[str, int]:
        with self._lock:
            return {chat: len(entries) for chat, entries in self._chats.items()}


# ---------------------------------------------------------------------------------------------------------------
# The stand-ins' records, as people read them.


def notice_text(body: dict[str, Any]) -> str:
    """A delivered customer-service or template message as the resident reads it."""
    text = body.get("text")
    if isinstance(text, dict):
        return str(text.get("content", ""))
    data = body.get("data")
    if isinstance(data, dict):
        values = [str(v.get("value", "")) for v in data.values() if isinstance(v, dict)]
        return "\n".join(v for v in values if v)
    return json.dumps(body, ensure_ascii=False)


def card_view(card: dict[str, Any]) -> dict[str, Any]:
    """A WeCom button_interaction template card as the page draws it."""
    main = card.get("main_title") or {}
    quote = card.get("quote_area") or {}
    notes = [card.get("sub_title_text", ""), quote.get("quote_text", "")]
    return {
        "task_id": str(card.get("task_id", "")),
        "source": (card.get("source") or {}).get("desc", ""),
        "title": main.get("title", ""),
        "desc": main.get("desc", ""),
        "emphasis": (card.get("emphasis_content") or {}).get("title", ""),
        "fields": [field_view(item) for item in card.get("horizontal_content_list") or []],
        "note": "\n".join(n for n in notes if n),
        "buttons": [
            {"text": b.get("text", ""), "key": b.get("key", ""), "style": b.get("style", 1)}
            for b in card.get("button_list") or []
        ],
        "done": card.get("replace_text", ""),
    }


def field_view(item: dict[str, Any]) -> dict[str, str]:
    """A row of the card's horizontal_content_list; a link row (type 1) keeps its address, which the page opens as
    WeCom does (only http and https: anything else is drawn as plain text)."""
    field = {"key": str(item.get("keyname") or ""), "value": str(item.get("value") or "")}
    url = item.get("url")
    if item.get("type") == 1 and isinstance(url, str) and url.startswith(("http://", "https://")):
        field["url"] = url
    return field


def bot_text(body: dict[str, Any]) -> tuple[str, str]:
    """(key, text) of what the bot said: markdown, text, or a streamed reply (key = stream id, updated in place)."""
    stream = body.get("stream")
    if isinstance(stream, dict):
        return f"stream:{stream.get('id', '')}", str(stream.get("content", ""))
    for kind in ("markdown", "text"):
        part = body.get(kind)
        if isinstance(part, dict):
            return "", str(part.get("content", ""))
    return "", json.dumps(body, ensure_ascii=False)


ACTION_WORDS = {"accept": "接单", "resolve": "办结", "return": "退回", "status": "查看"}


# ---------------------------------------------------------------------------------------------------------------


class Simulator:
    """The state behind the page: the Official Account, the two stand-ins, and each chat's log."""

    def __init__(
        self,
        app_url: str,
        account: OfficialAccount,
        directory: Directory,
        wechat_api: WeChatApi,
        aibot: AIBotServer,
        timeout: float = 5.0,
        wecom_api: WeComApi | None = None,
    ) -> None:
        self.app_url = app_url.rstrip("/")
        self.account = account
        self.directory = directory
        self.wechat_api = wechat_api
        self.aibot = aibot
        self.wecom_api = wecom_api
        self.timeout = timeout
        self.oa = Log()
        self.groups = Log()
        self._sync_lock = threading.Lock()
        self._notices_seen: dict[str, int] = {}
        self._group_seen: dict[str, int] = {}

    def names(self) -> dict[str, str]:
        return {p.id: p.name for p in self.directory.members}

    # -- Official Account ---------------------------------------------------------------------------------------

    def say(self, openid: str, text: str, safe: bool = False) -> dict[str, Any]:
        """Send a text message as WeChat's servers would and record the exchange in the user's chat."""
        self.sync_notices(openid)
        self.oa.add(openid, "me", text)
        # WeChat opens the 48-hour customer-service window when the user writes, whatever our app answers.
        self.wechat_api.user_messaged(openid)
        query, body = self.account.signed(self.account.text(openid, text), safe=safe)
        req = urllib.request.Request(f"{self.app_url}/wechat?{query}", data=body, headers={"Content-Type": "text/xml"})
        started = time.monotonic()
        reply, error = "", ""
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                reply = self.account.open_reply(response.read().decode(), safe=safe).get("Content", "")
        except urllib.error.HTTPError as failure:
            error = f"网格通拒绝了这条消息：HTTP {failure.code}"
        except (urllib.error.URLError, OSError) as failure:
            reason = getattr(failure, "reason", failure)
            error = (
                f"连不上网格通 {self.app_url}（{reason}）。"
                "刚运行 make run 的话它还在启动，过几秒再发；没在运行就先运行 make run。"
            )
        except ValueError as failure:
            error = f"回复没有通过微信的校验：{failure}"
        ms = int((time.monotonic() - started) * 1000)
        if error:
            self.oa.add(openid, "system", error)
        elif reply:
            self.oa.add(openid, "bot", reply, ms=ms)
        else:
            self.oa.add(openid, "system", "（服务器回复 success：微信不给用户显示任何内容）", ms=ms)
        return {"reply": reply, "ms": ms, "error": error}

    def sync_notices(self, openid: str) -> None:
        """Move what the WeChat API stand-in delivered to this user since the last look into their chat."""
        with self._sync_lock:
            sent = self.wechat_api.sent(openid)
            for record in sent[self._notices_seen.get(openid, 0) :]:
                via = "客服消息" if record["kind"] == "custom" else "模板消息"
                self.oa.add(openid, "notice", notice_text(record["body"]), at=record.get("at"), sender=via)
            self._notices_seen[openid] = len(sent)

    def oa_entries(self, openid: str) -> list[dict[str, Any]]:
        self.sync_notices(openid)
        return self.oa.entries(openid)

    # -- WeCom groups -------------------------------------------------------------------------------------------

    def chat_ids(self) -> list[str]:
        chats = [c.chat_id for c in self.directory.chats]
        for chat in self.groups.chats():
            if chat not in chats:
                chats.append(chat)
        return chats

    def sync_group(self, chat_id: str) -> None:
        """Bring what happened in a chat since the last look (the AI-bot stand-in's transcript) into its log."""
        names = self.names()
        with self._sync_lock:
            transcript = self.aibot.messages(chat_id)
            for record in transcript[self._group_seen.get(chat_id, 0) :]:
                kind, body, at = record["kind"], record["body"], record.get("time")
                userid = (body.get("from") or {}).get("userid", "")
                if kind == "user_text":
                    text = (body.get("text") or {}).get("content", "")
                    self.groups.add(chat_id, "me", text, at=at, sender=userid)
                elif kind == "user_click":
                    event = (body.get("event") or {}).get("template_card_event") or {}
                    action, _, number = str(event.get("event_key", "")).partition(":")
                    word = ACTION_WORDS.get(action, action)
                    who = names.get(userid, userid)
                    self.groups.add(chat_id, "system", f"{who} 点了工单 {number} 的“{word}”", at=at, sender=userid)
                elif isinstance(body.get("template_card"), dict):
                    card = card_view(body["template_card"])
                    self.groups.put(chat_id, "card:" + card["task_id"], "bot", at=at, card=card)
                else:
                    key, text = bot_text(body)
                    if key:
                        self.groups.put(chat_id, key, "bot", text, at=at)
                    else:
                        self.groups.add(chat_id, "bot", text, at=at)
            self._group_seen[chat_id] = len(transcript)

    def group_entries(self, chat_id: str) -> list[dict[str, Any]]:
        self.sync_group(chat_id)
        return self.groups.entries(chat_id)

    def group_say(self, chat_id: str, userid: str, text: str) -> None:
        """A member @s the bot (the stand-in adds the "@网格通 " WeCom puts before the text)."""
        text = text.strip().removeprefix(f"@{self.aibot.name}").strip()
        self._drive(chat_id, lambda: self.aibot.say(chat_id, userid, text), f"@{self.aibot.name} {text}", userid)

    def group_click(self, chat_id: str, userid: str, event_key: str, task_id: str) -> None:
        self._drive(chat_id, lambda: self.aibot.click(chat_id, userid, event_key, task_id), "", userid)

    def _drive(self, chat_id: str, act: Callable[[], Any], text: str, userid: str) -> None:
        try:
            act()
        except RuntimeError as refused:  # no gateway connected: the member's message reaches nobody
            self.sync_group(chat_id)
            if text:
                self.groups.add(chat_id, "me", text, sender=userid)
            self.groups.add(chat_id, "system", f"没有送达（{refused}）：网关没有连上，先运行 python -m bot.gateway。")
        self.sync_group(chat_id)

    # -- status and injection -----------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"{self.app_url}/healthz", timeout=1) as response:
                app_up = response.status == 200
        except (urllib.error.URLError, OSError):
            app_up = False
        bots = {bot: self.aibot.is_connected(bot) for bot in self.aibot.bots}
        return {"app": app_up, "gateway": all(bots.values()), "bots": bots, "app_url": self.app_url}

    def inject(self, spec: dict[str, Any]) -> None:
        """Call one of the stand-in's injection methods (INJECTIONS) with the rest of spec as arguments."""
        target, action = spec.get("target", ""), spec.get("action", "")
        if action not in INJECTIONS.get(target, set()):
            raise ValueError(f"unknown target/action: {target}/{action}")
        stand_ins = {"wechat_api": self.wechat_api, "aibot": self.aibot, "wecom_api": self.wecom_api}
        stand_in = stand_ins[target]
        if stand_in is None:
            raise ValueError(f"{target} is not running")
        getattr(stand_in, action)(**{k: v for k, v in spec.items() if k not in ("target", "action")})


# ---------------------------------------------------------------------------------------------------------------


def create_simulator_app(sim: Simulator, wechat_api_app: Flask | None = None) -> Flask:
    """The page and its JSON endpoints; the WeChat API stand-in, when given, answers under /cgi-bin/."""
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["simulator"] = sim

    @app.get("/")
    def page() -> Response:
        response = send_from_directory(STATIC, "index.html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/sim/directory")
    def directory() -> Response:
        return jsonify(sim.directory.as_json())

    @app.get("/sim/status")
    def status() -> Response:
        return jsonify(sim.status())

    @app.post("/sim/oa/say")
    def oa_say() -> Response:
        data = _json_body("openid", "text")
        return jsonify(sim.say(data["openid"], data["text"], bool(data.get("safe"))))

    @app.get("/sim/oa")
    def oa_entries() -> Response:
        return jsonify({"entries": sim.oa_entries(_arg("openid"))})

    @app.get("/sim/chats")
    def chats() -> Response:
        names = {c.chat_id: c.name for c in sim.directory.chats}
        counts = sim.groups.chats()
        listed = [{"chat_id": c, "name": names.get(c, c), "count": counts.get(c, 0)} for c in sim.chat_ids()]
        return jsonify({"chats": listed})

    @app.get("/sim/chat")
    def chat_entries() -> Response:
        return jsonify({"entries": sim.group_entries(_arg("chat_id"))})

    @app.post("/sim/chat/say")
    def chat_say() -> Response:
        data = _json_body("chat_id", "userid", "text")
        sim.group_say(data["chat_id"], data["userid"], data["text"])
        return jsonify({"ok": True})

    @app.post("/sim/chat/click")
    def chat_click() -> Response:
        data = _json_body("chat_id", "userid", "event_key", "task_id")
        sim.group_click(data["chat_id"], data["userid"], data["event_key"], data["task_id"])
        return jsonify({"ok": True})

    @app.post("/sim/wx-login")
    def wx_login() -> Response | tuple[Response, int]:
        data = _json_body("openid")
        unionid = str(data.get("unionid") or "").strip() or None
        try:
            return jsonify({"code": sim.wechat_api.wx_login(data["openid"].strip(), unionid)})
        except ValueError as refused:
            return jsonify({"ok": False, "error": str(refused)}), 400

    @app.post("/sim/phone-code")
    def phone_code() -> Response | tuple[Response, int]:
        data = _json_body("phone")
        try:
            return jsonify({"code": sim.wechat_api.phone_code(data["phone"].strip())})
        except ValueError as refused:
            return jsonify({"ok": False, "error": str(refused)}), 400

    @app.post("/sim/subscribe")
    def accept_subscribe() -> Response | tuple[Response, int]:
        data = _json_body("openid")
        templates = data.get("template_ids")
        try:
            if not isinstance(templates, list):
                raise ValueError("template_ids: a list of template ids")
            credits = sim.wechat_api.accept_subscribe(data["openid"].strip(), templates)
        except ValueError as refused:
            return jsonify({"ok": False, "error": str(refused)}), 400
        return jsonify({"credits": credits})

    @app.post("/sim/media-verdict")
    def media_verdict() -> Response | tuple[Response, int]:
        data = _json_body("suggest")
        try:
            sim.wechat_api.media_verdict(data["suggest"].strip(), int(data.get("count") or 1))
        except (ValueError, TypeError) as refused:
            return jsonify({"ok": False, "error": str(refused)}), 400
        return jsonify({"ok": True})

    @app.post("/sim/inject")
    def inject() -> Response | tuple[Response, int]:
        try:
            sim.inject(request.get_json(silent=True) or {})
        except (ValueError, TypeError) as refused:
            return jsonify({"ok": False, "error": str(refused)}), 400
        return jsonify({"ok": True})

    if wechat_api_app is not None:
        app.wsgi_app = CgiBinMount(app.wsgi_app, wechat_api_app)  # type: ignore[method-assign]
    return app


def _arg(name: str) -> str:
    value = request.args.get(name, "").strip()
    if not value:
        abort(400, f"{name} is required")
    return value[:128]


def _json_body(*required: str) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or any(not str(data.get(k, "")).strip() for k in required):
        abort(400, "JSON body needs: " + ", ".join(required))
    return {k: (str(v)[:2000] if k in required else v) for k, v in data.items()}


class CgiBinMount:
    """/cgi-bin/..., /sns/..., /wxa/... and /connect/... go to the Tencent stand-ins (their routes carry the prefix,
    as Tencent's); the rest: the page."""

    PREFIXES = ("/cgi-bin/", "/sns/", "/wxa/", "/connect/")

    def __init__(self, page: Callable[..., Any], wechat_api_app: Flask) -> None:
        self.page, self.api = page, wechat_api_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = self.api if environ.get("PATH_INFO", "").startswith(self.PREFIXES) else self.page
        return target(environ, start_response)


# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Running:
    """A started simulator: its web server thread, the AI-bot stand-in, and how to reach them."""

    url: str
    ws_url: str
    sim: Simulator
    stop: Callable[[], None]


def start(
    app_url: str,
    port: int = 0,
    ws_port: int = 0,
    settings: Settings | None = None,
    bot_id: str = DEFAULT_BOT_ID,
    bot_secret: str = DEFAULT_BOT_SECRET,
    demo_dir: Path = ROOT / "demo",
    supervisor_chat_id: str = SUPERVISOR_CHAT_ID,
    aibot_limits: Limits | None = None,
    mp_push_url: str | None = None,
) -> Running:
    """Start both stand-ins and the page on 127.0.0.1 in background threads (port 0: any free port).

    aibot_limits: the AI-bot stand-in's frequency limit per chat, as AIBotServer's keywords (per_minute, per_hour,
    minute, hour); unset, Tencent's (30 a minute, 1,000 an hour), which `python -m simulator serve` always uses.
    mp_push_url: the mini-program's message push, where photo verdicts go (None: app_url/wechat/mp; "": none)."""
    settings = settings or Settings.from_env()
    account = OfficialAccount(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
    wechat_api_app = create_wechat_api(
        settings.wechat_appid,
        settings.wechat_secret,
        mp_appid=settings.wechat_mp_appid or DEV_MP_APPID,
        mp_secret=settings.wechat_mp_secret or SIM_MP_SECRET,
        mp_push_url=f"{app_url.rstrip('/')}/wechat/mp" if mp_push_url is None else mp_push_url,
        mp_push_token=settings.wechat_mp_token,
    )
    # Group robots (for tenants without the AI bot) answer under the same /cgi-bin/, one per demo grid.
    robots = wecom_webhook.install(wechat_api_app)
    with (demo_dir / "grids.csv").open(encoding="utf-8") as grids_file:
        for grid in csv.DictReader(grids_file):
            if grid.get("webhook_key"):
                robots.register_key(grid["webhook_key"], grid["name"])
    directory = Directory.load(demo_dir, supervisor_chat_id)
    # WeCom's web login for the centre screen, with the corp's members as the page's member picker knows them.
    members = [
        wecom_api.Member(m.id, m.name, m.post or (f"网格 {m.grid}" if m.grid else "")) for m in directory.members
    ]
    corp = WeComApi(
        settings.wecom_corp_id,
        settings.wecom_app_secret or SIM_WECOM_APP_SECRET,
        settings.wecom_agent_id,
        members=members,
    )
    wecom_api.install(wechat_api_app, corp)
    aibot = AIBotServer(bot_id, bot_secret, port=ws_port, **(aibot_limits or Limits())).start()
    # A street with a bot of its own (org.csv bot_id): its gateway signs in with the secret bot_secret_of gives it.
    for bot in directory.bots():
        aibot.add_bot(bot, bot_secret_of(bot))
    for chat in directory.chats:
        aibot.seat(chat.chat_id, chat.bot or bot_id)
    sim = Simulator(app_url, account, directory, wechat_api_app.extensions["wechat_api"], aibot, wecom_api=corp)
    try:
        url, stop_web = serve_in_thread(create_simulator_app(sim, wechat_api_app), port)
    except BaseException:
        aibot.stop()
        raise

    def stop() -> None:
        stop_web()
        sim.wechat_api.close()  # photo verdicts not yet pushed are dropped
        aibot.stop()

    return Running(url, aibot.url, sim, stop)


def bot_secret_of(bot: str) -> str:
    """The stand-in's secret for a bot named in the demo tree (devserver starts its gateway with it)."""
    return f"{bot}-secret"


def serve_in_thread(
    wsgi_app: Any, port: int = 0, name: str = "simulator-web", poll_interval: float = 0.5
) -> tuple[str, Callable[[], None]]:
    """Serve a WSGI app on 127.0.0.1 from a daemon thread (threaded werkzeug); returns its URL and a stop, which
    waits at most `poll_interval` for the server to notice (tests that start many pass a short one)."""
    server = make_server("127.0.0.1", port, wsgi_app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}", stop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app-url", default="http://127.0.0.1:5000", help="where 网格通 runs (make run)")
    parser.add_argument("--port", type=int, default=5001, help="the page and the WeChat API stand-in")
    parser.add_argument("--ws-port", type=int, default=5002, help="the WeCom AI-bot WebSocket stand-in")
    parser.add_argument("--bot-id", default=DEFAULT_BOT_ID)
    parser.add_argument("--bot-secret", default=DEFAULT_BOT_SECRET)
    parser.add_argument("--supervisor-chat", default=SUPERVISOR_CHAT_ID, help="the 指挥中心群 chat id")
    parser.add_argument(
        "--mp-push-url", default=None, help="the mini-program's message push, for photo verdicts (APP_URL/wechat/mp)"
    )


def serve(args: argparse.Namespace) -> int:
    """`python -m simulator serve`: run until Ctrl-C and print how to point 网格通 at the stand-ins."""
    running = start(
        args.app_url,
        args.port,
        args.ws_port,
        bot_id=args.bot_id,
        bot_secret=args.bot_secret,
        supervisor_chat_id=args.supervisor_chat,
        mp_push_url=args.mp_push_url,
    )
    mini = running.sim.wechat_api
    street_gateways = "".join(
        f"  WECOM_BOT_ID={bot} WECOM_BOT_SECRET={bot_secret_of(bot)} .venv/bin/python -m bot.gateway   # {bot} 的网关\n"
        for bot in running.sim.directory.bots()
    )
    print(
        f"\n模拟器已启动：打开 {running.url}\n"
        f"  居民、指挥中心 → {args.app_url}/wechat（签名，可选安全模式）\n"
        f"  微信接口替身     {running.url}/cgi-bin/\n"
        f"  企业微信登录、公众号网页授权替身 {running.url}/connect/oauth2/authorize\n"
        f"  小程序接口替身   {running.url}/sns/、{running.url}/wxa/（wx.login 的 code：POST /sim/wx-login）\n"
        f"  小程序消息推送   → {mini.mp_push_url}（照片检测结果，token {mini.mp_push_token}）\n"
        f"  企业微信机器人替身 {running.ws_url}\n\n"
        f"让网格通连到这里（在运行 make run 和网关的终端里先设置）：\n"
        f"  export WECHAT_API_BASE={running.url}/cgi-bin/\n"
        f"  export WECOM_API_BASE={running.url}/cgi-bin/ WECOM_OAUTH_URL={running.url}/connect/oauth2/authorize\n"
        f"  export WECOM_APP_SECRET={running.sim.wecom_api.secret if running.sim.wecom_api else ''}\n"
        f"  export WECHAT_OAUTH_URL={running.url}/connect/oauth2/authorize\n"
        f"  export WECHAT_MP_APPID={mini.mp_appid} WECHAT_MP_SECRET={mini.mp_secret}\n"
        f"  export WECHAT_MP_TOKEN={mini.mp_push_token}\n"
        f"  export WECOM_WS_URL={running.ws_url}\n"
        f"  export WECOM_BOT_ID={args.bot_id} WECOM_BOT_SECRET={args.bot_secret}\n"
        f"  export WECOM_SUPERVISOR_CHAT_ID={args.supervisor_chat}\n"
        f"  make run                      # 网页、rq worker、定时补发\n"
        f"  .venv/bin/python -m bot.gateway   # 企业微信长连接网关\n"
        f"{street_gateways}"
        f"Ctrl-C 停止。\n",
        flush=True,
    )
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        while not stopping.wait(1):
            pass
    finally:
        running.stop()
    return 0
