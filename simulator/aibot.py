"""Tencent's side of the WeCom AI-bot (智能机器人) long connection, on loopback, for tests and for people.

Speaks the frames of developer.work.weixin.qq.com/document/path/101463: every frame is JSON
{"cmd", "headers": {"req_id"}, "body"}; an answer is a frame without "cmd" carrying the same req_id and
"errcode"/"errmsg". The bot authenticates with aibot_subscribe, keeps the connection with ping, answers callbacks
with aibot_respond_msg / aibot_respond_update_msg (same req_id as the callback) and pushes with aibot_send_msg.
One connection per bot: a newer one displaces the older, which gets a disconnected_event and is closed.

Tencent's frequency limit per conversation, as 101463 (the page of March 2026) states it twice, under 回复普通消息
and under 主动推送消息:
    "无论是回复还是主动推送消息，总共给某个会话发消息的限制为 30 条/分钟，1000 条/小时"
(whether replying or pushing, everything sent to one conversation together is limited to 30 a minute and 1,000 an
hour). Its other rules there (a reply only within 24 hours of the callback; a push only to a chat that has written
to the bot) are not modelled; the group robot's own limit (20 a minute per robot) is simulator/wecom_webhook.py's.
The stand-in keeps one sliding window per chat (time.monotonic() of every message it took) and answers what goes
beyond it with errcode 45009 "api freq out of limit"; a message so refused is not in the chat: not in the
transcript, no card changed.
Where the page is silent we chose, and the choices are the strict reading, so that a pace our gateway gets away
with here is one Tencent accepts too:
- what counts: every aibot_send_msg, aibot_respond_msg (each frame, a stream's refreshes too: the page says only
  that the stream's refreshes share its req_id), aibot_respond_update_msg (a card update is a reply, listed under
  the page's 回复消息 with the other two) and aibot_respond_welcome_msg, in the chat they reach;
- only messages taken count: one refused (45009, a repeated task_id, an unknown req_id, an injected failure) does
  not use up the window, so the same push sent again once the window has moved on is taken;
- the error code: the page names none for this limit; 45009 is WeCom's global code for a frequency limit
  ("接口调用超过限制", errmsg "api freq out of limit"), and the one the group-robot webhook answers beyond its own.
The limits and both windows are constructor arguments with Tencent's numbers as defaults (per_minute=30,
per_hour=1000, minute=60 s, hour=3600 s; None for no limit): tests and benchmarks shrink or raise them explicitly.
`rate_refused` counts the refusals.

Plain ws:// on 127.0.0.1 only: the stand-in never leaves the machine, so TLS would test nothing of ours.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

T = TypeVar("T")

AUTH_FAILED = 40001  # what a wrong bot id or secret gets here (Tencent's exact code for it is not documented)
UNKNOWN_REQ_ID = 40058  # a reply whose req_id is no callback we sent
NOT_AUTHENTICATED = 40014
UNKNOWN_CMD = 40033
# "taskid has existed or empty or exceed max len": the errcode WeCom documents for a template card's task_id
# ("同一个机器人任务id不能重复，只能由数字、字母和“_-@”组成，最长128字节").
TASK_ID_REFUSED = 42014
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
# More than a conversation may take: 30 messages a minute, 1,000 an hour, replies and pushes together (101463).
FREQ_LIMITED = 45009
PER_MINUTE, PER_HOUR = 30, 1000
MINUTE_SECONDS, HOUR_SECONDS = 60.0, 3600.0


class Limits(TypedDict, total=False):
    """AIBotServer's frequency-limit keywords, for whoever builds the stand-in on a caller's behalf."""

    per_minute: int | None
    per_hour: int | None
    minute: float
    hour: float


class AIBotServer:
    """One AI bot as Tencent's servers see it: credentials, the live connection, and a transcript per chat."""

    def __init__(
        self,
        bot_id: str,
        secret: str,
        port: int = 0,
        name: str = "网格通",
        *,
        per_minute: int | None = PER_MINUTE,
        per_hour: int | None = PER_HOUR,
        minute: float = MINUTE_SECONDS,
        hour: float = HOUR_SECONDS,
    ) -> None:
        """per_minute / per_hour: messages one chat takes within `minute` / `hour` seconds (None: no limit)."""
        self.bot_id, self.secret, self.name = bot_id, secret, name
        self._port = port
        self.per_minute, self.per_hour, self.minute, self.hour = per_minute, per_hour, minute, hour
        self._sent_at: dict[str, deque[float]] = {}  # chat -> monotonic times of the messages it took, oldest first
        self._lock = threading.Lock()
        self._transcripts: dict[str, list[dict[str, Any]]] = {}
        self._cards: dict[str, dict[str, dict[str, Any]]] = {}
        self._task_ids: set[str] = set()  # every card task_id this bot has pushed, in any chat
        self._callbacks: dict[str, str] = {}  # req_id of a callback we sent -> its chat
        self._live: ServerConnection | None = None
        self._fail_code = 0
        self._fail_count: int | None = None
        self._fail_until = 0.0
        self._delay = 0.0
        self._ids = itertools.count(1)
        self.authentications = 0  # successful aibot_subscribe, ever: a reconnect adds one
        self.refused = 0  # aibot_subscribe with wrong credentials
        self.repeats_refused = 0  # aibot_send_msg with a card task_id this bot had already pushed
        self.rate_refused = 0  # messages beyond a chat's frequency limit (45009), sends and replies alike
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # ---- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> AIBotServer:
        self._thread = threading.Thread(target=self._run, name="aibot-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("AI-bot stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._server is None:
            return
        loop, server = self._loop, self._server

        async def shutdown() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(10)
        self._server = None

    def __enter__(self) -> AIBotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def connected(self) -> bool:
        """An authenticated bot connection is live."""
        with self._lock:
            return self._live is not None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def open_server() -> None:
            self._server = await serve(self._serve, "127.0.0.1", self._port, ping_interval=None)

        loop.run_until_complete(open_server())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    # ---- what a test reads ------------------------------------------------------------------------------------

    def messages(self, chatid: str) -> list[dict[str, Any]]:
        """Everything that happened in a chat, oldest first: dicts with kind, body, time, req_id.

        kinds: "user_text" / "user_click" (a person, through us), "send" (aibot_send_msg), "reply"
        (aibot_respond_msg), "update" (aibot_respond_update_msg).
        """
        with self._lock:
            return [dict(m) for m in self._transcripts.get(chatid, [])]

    def cards(self, chatid: str) -> dict[str, dict[str, Any]]:
        """The cards in a chat as members see them now, by task_id."""
        with self._lock:
            return {task: json.loads(json.dumps(card)) for task, card in self._cards.get(chatid, {}).items()}

    def replies_to(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's answers (reply / update) to a callback frame sent by say() or click()."""
        req_id = frame["headers"]["req_id"]
        chat = frame["body"].get("chatid") or frame["body"]["from"]["userid"]
        return [m for m in self.messages(chat) if m["kind"] in ("reply", "update") and m["req_id"] == req_id]

    def wait_for(self, check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
        """Poll until check() returns something truthy, and return it; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"still waiting after {timeout} s")
            time.sleep(interval)

    # ---- people in WeCom --------------------------------------------------------------------------------------

    def say(self, chatid: str, userid: str, text: str, mention: bool = True) -> dict[str, Any]:
        """A member @-mentions the bot in a group chat; returns the aibot_msg_callback frame sent."""
        body = self._base(chatid, userid) | {
            "msgtype": "text",
            "text": {"content": (f"@{self.name} " if mention else "") + text},
        }
        return self._push("aibot_msg_callback", body, "user_text")

    def photo(self, chatid: str, userid: str, url: str) -> dict[str, Any]:
        """A member sends a picture in the chat (Tencent encrypts the file; the url and aeskey say where)."""
        body = self._base(chatid, userid) | {"msgtype": "image", "image": {"url": url, "aeskey": "sim"}}
        return self._push("aibot_msg_callback", body, "user_text")

    def click(self, chatid: str, userid: str, event_key: str, task_id: str) -> dict[str, Any]:
        """A member taps a button on a template card; returns the aibot_event_callback frame sent."""
        body = self._base(chatid, userid) | {
            "create_time": int(time.time()),
            "msgtype": "event",
            "event": {
                "eventtype": "template_card_event",
                "template_card_event": {"card_type": "button_interaction", "event_key": event_key, "task_id": task_id},
            },
        }
        return self._push("aibot_event_callback", body, "user_click")

    def resend(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Deliver the same callback again (same msgid, a new req_id), as Tencent does when unsure it arrived."""
        kind = "user_text" if frame["cmd"] == "aibot_msg_callback" else "user_click"
        return self._push(frame["cmd"], json.loads(json.dumps(frame["body"])), kind)

    def _base(self, chatid: str, userid: str) -> dict[str, Any]:
        return {
            "msgid": f"{int(time.time())}{next(self._ids):06d}{secrets.token_hex(4)}",
            "aibotid": self.bot_id,
            "chatid": chatid,
            "chattype": "group",
            "from": {"userid": userid},
        }

    def _push(self, cmd: str, body: dict[str, Any], kind: str) -> dict[str, Any]:
        req_id = f"{cmd}_{secrets.token_hex(8)}"
        frame: dict[str, Any] = {"cmd": cmd, "headers": {"req_id": req_id}, "body": body}
        with self._lock:
            live = self._live
            if live is None:
                raise RuntimeError("no bot is connected")
            self._callbacks[req_id] = body["chatid"]
            self._record(body["chatid"], kind, body, req_id)
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(live.send(json.dumps(frame, ensure_ascii=False)), self._loop).result(5)
        return frame

    # ---- error injection --------------------------------------------------------------------------------------

    def fail_sends(self, errcode: int = 45009, seconds: float | None = None, count: int | None = None) -> None:
        """Answer aibot_send_msg with `errcode` for the next `count` sends, or for `seconds`."""
        with self._lock:
            self._fail_code = errcode
            self._fail_count = count
            self._fail_until = time.monotonic() + seconds if seconds is not None else float("inf")

    def slow(self, seconds: float) -> None:
        """Delay every answer by this long (0 to stop)."""
        with self._lock:
            self._delay = seconds

    def drop(self) -> None:
        """Cut the live connection without a close frame, like a network failure."""
        with self._lock:
            live, self._live = self._live, None
        if live is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(live.transport.abort)

    def _take_failure(self) -> int:
        with self._lock:
            if not self._fail_code or time.monotonic() > self._fail_until:
                return 0
            if self._fail_count is not None:
                if self._fail_count <= 0:
                    return 0
                self._fail_count -= 1
            return self._fail_code

    # ---- the wire ---------------------------------------------------------------------------------------------

    def _record(self, chat: str, kind: str, body: dict[str, Any], req_id: str) -> None:
        """Caller holds the lock."""
        self._transcripts.setdefault(chat, []).append(
            {"kind": kind, "body": body, "time": time.time(), "req_id": req_id}
        )

    def _take_slot(self, chat: str) -> bool:
        """Whether the chat takes one more message now, and if so count it (caller holds the lock)."""
        now = time.monotonic()
        sent = self._sent_at.setdefault(chat, deque())
        while sent and sent[0] <= now - max(self.minute, self.hour):
            sent.popleft()
        for limit, window in ((self.per_minute, self.minute), (self.per_hour, self.hour)):
            if limit is not None and _count_since(sent, now - window) >= limit:
                self.rate_refused += 1
                return False
        sent.append(now)
        return True

    async def _answer(self, ws: ServerConnection, req_id: str, errcode: int = 0, errmsg: str = "ok") -> None:
        with self._lock:
            delay = self._delay
        if delay:
            await asyncio.sleep(delay)
        await ws.send(json.dumps({"headers": {"req_id": req_id}, "errcode": errcode, "errmsg": errmsg}))

    async def _serve(self, ws: ServerConnection) -> None:
        authenticated = False
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                    cmd, req_id = frame.get("cmd", ""), frame.get("headers", {}).get("req_id", "")
                except (ValueError, AttributeError):
                    continue
                if cmd == "aibot_subscribe":
                    authenticated = await self._subscribe(ws, req_id, frame.get("body") or {})
                    if not authenticated:
                        return
                elif not authenticated:
                    await self._answer(ws, req_id, NOT_AUTHENTICATED, "not subscribed")
                elif cmd == "ping":
                    await self._answer(ws, req_id)
                elif cmd == "aibot_send_msg":
                    await self._send_msg(ws, req_id, frame.get("body") or {})
                elif cmd in ("aibot_respond_msg", "aibot_respond_update_msg", "aibot_respond_welcome_msg"):
                    await self._respond(ws, cmd, req_id, frame.get("body") or {})
                else:
                    await self._answer(ws, req_id, UNKNOWN_CMD, f"unknown cmd {cmd}")
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if self._live is ws:
                    self._live = None

    async def _subscribe(self, ws: ServerConnection, req_id: str, body: dict[str, Any]) -> bool:
        if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
            with self._lock:
                self.refused += 1
            await self._answer(ws, req_id, AUTH_FAILED, "invalid bot_id or secret")
            await ws.close(1008, "invalid credential")
            return False
        with self._lock:
            old, self._live = self._live, ws
            self.authentications += 1
        await self._answer(ws, req_id)
        if old is not None and old is not ws:
            event = {
                "cmd": "aibot_event_callback",
                "headers": {"req_id": f"aibot_event_callback_{secrets.token_hex(8)}"},
                "body": {
                    "msgid": secrets.token_hex(12),
                    "create_time": int(time.time()),
                    "aibotid": self.bot_id,
                    "msgtype": "event",
                    "event": {"eventtype": "disconnected_event"},
                },
            }
            try:
                await old.send(json.dumps(event))
                await old.close(1000, "replaced by a newer connection")
            except ConnectionClosed:
                pass
        return True

    async def _send_msg(self, ws: ServerConnection, req_id: str, body: dict[str, Any]) -> None:
        chat = body.get("chatid", "")
        if not chat or body.get("msgtype") not in ("markdown", "template_card"):
            await self._answer(ws, req_id, 40008, "invalid chatid or msgtype")
            return
        errcode = self._take_failure()
        if errcode:
            await self._answer(ws, req_id, errcode, "api freq out of limit" if errcode == FREQ_LIMITED else "failed")
            return
        card = body.get("template_card") if body["msgtype"] == "template_card" else None
        task_id = card.get("task_id") if isinstance(card, dict) else None
        with self._lock:
            repeat = isinstance(task_id, str) and task_id in self._task_ids
            refused = card is not None and (repeat or not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id))
            self.repeats_refused += repeat
            # A push beyond the limit leaves its task_id free: the same card is taken once the window moves on.
            limited = not refused and not self._take_slot(chat)
            if not refused and not limited:
                self._record(chat, "send", body, req_id)
                if isinstance(card, dict) and isinstance(task_id, str):
                    self._task_ids.add(task_id)
                    self._cards.setdefault(chat, {})[task_id] = card
        if refused:
            await self._answer(ws, req_id, TASK_ID_REFUSED, "taskid has existed or empty or exceed max len")
        elif limited:
            await self._answer(ws, req_id, FREQ_LIMITED, "api freq out of limit")
        else:
            await self._answer(ws, req_id)

    async def _respond(self, ws: ServerConnection, cmd: str, req_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            chat = self._callbacks.get(req_id)
            limited = chat is not None and not self._take_slot(chat)
            if chat is not None and not limited:
                kind = "update" if cmd == "aibot_respond_update_msg" else "reply"
                self._record(chat, kind, body, req_id)
                card = body.get("template_card") or {}
                if kind == "update" and card.get("task_id"):
                    self._cards.setdefault(chat, {})[card["task_id"]] = card
        if chat is None:
            await self._answer(ws, req_id, UNKNOWN_REQ_ID, "invalid req_id")
        elif limited:
            await self._answer(ws, req_id, FREQ_LIMITED, "api freq out of limit")
        else:
            await self._answer(ws, req_id)


def _count_since(times: deque[float], since: float) -> int:
    """How many of the ascending `times` are later than `since`."""
    count = 0
    for t in reversed(times):
        if t <= since:
            break
        count += 1
    return count
