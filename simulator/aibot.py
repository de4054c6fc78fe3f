"""Tencent's side of the WeCom AI-bot (智能机器人) long connection, on loopback, for tests and for people.

Speaks the frames of developer.work.weixin.qq.com/document/path/101463: every frame is JSON
{"cmd", "headers": {"req_id"}, "body"}; an answer is a frame without "cmd" carrying the same req_id and
"errcode"/"errmsg". The bot authenticates with aibot_subscribe, keeps the connection with ping, answers callbacks
with aibot_respond_msg / aibot_respond_update_msg (same req_id as the callback) and pushes with aibot_send_msg.
One connection per bot: a newer one displaces the older, which gets a disconnected_event and is closed.

Several bots share the one port, as every bot shares Tencent's wss://openws.work.weixin.qq.com: the constructor's
bot is the first, add_bot() registers more, and a connection belongs to the bot it subscribed as. A chat is one chat
whichever bot speaks in it (one transcript, one set of cards; every record names its bot), but each bot has its own
connection, its own card task_ids and its own frequency windows in each chat. seat() puts a bot in a group: a push
into a chat seated with another bot is refused with errcode 40008 "invalid chatid: the bot is not in this chat"
(Tencent's code for a bot pushing into a group it is not in is undocumented; 40008 is our choice), and nothing is
recorded. A chat nobody was seated in takes any bot's pushes.

Tencent's frequency limit per conversation, as 101463 (the page of March 2026) states it twice, under 回复普通消息
and under 主动推送消息:
    "无论是回复还是主动推送消息，总共给某个会话发消息的限制为 30 条/分钟，1000 条/小时"
(whether replying or pushing, everything sent to one conversation together is limited to 30 a minute and 1,000 an
hour). Its other rules there (a reply only within 24 hours of the callback; a push only to a chat that has written
to the bot) are not modelled; the group robot's own limit (20 a minute per robot) is simulator/wecom_webhook.py's.
The stand-in keeps one sliding window per bot and chat (time.monotonic() of every message it took) and answers
what goes beyond it with errcode 45009 "api freq out of limit"; a message so refused is not in the chat: not in the
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
UNKNOWN_REQ_ID = 40058  # a reply whose req_id is no callback we sent to the replying bot
NOT_IN_CHAT = 40008  # a push into a chat seated with another bot, or with no chatid or msgtype we know
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
    """AI bots as Tencent's servers see them: credentials and a live connection per bot, a transcript per chat."""

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
        """bot_id / secret: the first bot. per_minute / per_hour: messages one bot may send into one chat within
        `minute` / `hour` seconds (None: no limit)."""
        self.bot_id, self.secret, self.name = bot_id, secret, name
        self._port = port
        self.per_minute, self.per_hour, self.minute, self.hour = per_minute, per_hour, minute, hour
        self._lock = threading.Lock()
        self._secrets = {bot_id: secret}  # every registered bot, the first first
        # (bot, chat) -> monotonic times of the messages taken from that bot in that chat, oldest first
        self._sent_at: dict[tuple[str, str], deque[float]] = {}
        self._transcripts: dict[str, list[dict[str, Any]]] = {}
        self._cards: dict[str, dict[str, dict[str, Any]]] = {}
        self._task_ids: dict[str, set[str]] = {}  # bot -> every card task_id it has pushed, in any chat
        self._callbacks: dict[str, tuple[str, str]] = {}  # req_id of a callback we sent -> (its bot, its chat)
        self._seats: dict[str, str] = {}  # chat -> the bot in that group
        self._pushed_by: dict[str, str] = {}  # chat -> the bot whose push it took last
        self._live: dict[str, ServerConnection] = {}  # bot -> its authenticated connection
        self._fail_code = 0
        self._fail_count: int | None = None
        self._fail_until = 0.0
        self._delay = 0.0
        self._ids = itertools.count(1)
        self.authentications = 0  # successful aibot_subscribe of any bot, ever: a reconnect adds one
        self.refused = 0  # aibot_subscribe with wrong credentials
        self.repeats_refused = 0  # aibot_send_msg with a card task_id its bot had already pushed
        self.rate_refused = 0  # messages beyond a bot's frequency limit in a chat (45009), sends and replies alike
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
        """The first bot has a live authenticated connection."""
        return self.is_connected(self.bot_id)

    def is_connected(self, bot_id: str) -> bool:
        """This bot has a live authenticated connection."""
        with self._lock:
            return bot_id in self._live

    # ---- bots and where they sit --------------------------------------------------------------------------------

    @property
    def bots(self) -> list[str]:
        """Every registered bot id, the first first."""
        with self._lock:
            return list(self._secrets)

    def add_bot(self, bot_id: str, secret: str) -> None:
        """Register one more bot that may subscribe on this port (before or after start())."""
        with self._lock:
            if bot_id in self._secrets:
                raise ValueError(f"bot {bot_id} is registered already")
            self._secrets[bot_id] = secret

    def seat(self, chat_id: str, bot_id: str) -> None:
        """Make this bot the one in the group: other bots' pushes into it are refused from now on."""
        with self._lock:
            if bot_id not in self._secrets:
                raise ValueError(f"unknown bot {bot_id}")
            self._seats[chat_id] = bot_id

    def bot_of(self, chat_id: str) -> str:
        """The bot seated in the chat, else the one whose push it took last, else the first bot."""
        with self._lock:
            return self._seats.get(chat_id) or self._pushed_by.get(chat_id) or self.bot_id

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
        """Everything that happened in a chat, oldest first: dicts with kind, body, time, req_id, bot.

        kinds: "user_text" / "user_click" (a person, through us, to `bot`), "send" (aibot_send_msg), "reply"
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

    # `bot` in say, photo and click: the bot the callback goes to; None: bot_of(chatid).

    def say(
        self, chatid: str, userid: str, text: str, mention: bool = True, *, bot: str | None = None
    ) -> dict[str, Any]:
        """A member @-mentions the bot in a group chat; returns the aibot_msg_callback frame sent."""
        body = self._base(chatid, userid, bot) | {
            "msgtype": "text",
            "text": {"content": (f"@{self.name} " if mention else "") + text},
        }
        return self._push("aibot_msg_callback", body, "user_text")

    def photo(self, chatid: str, userid: str, url: str, *, bot: str | None = None) -> dict[str, Any]:
        """A member sends a picture in the chat (Tencent encrypts the file; the url and aeskey say where)."""
        body = self._base(chatid, userid, bot) | {"msgtype": "image", "image": {"url": url, "aeskey": "sim"}}
        return self._push("aibot_msg_callback", body, "user_text")

    def click(
        self, chatid: str, userid: str, event_key: str, task_id: str, *, bot: str | None = None
    ) -> dict[str, Any]:
        """A member taps a button on a template card; returns the aibot_event_callback frame sent."""
        body = self._base(chatid, userid, bot) | {
            "create_time": int(time.time()),
            "msgtype": "event",
            "event": {
                "eventtype": "template_card_event",
                "template_card_event": {"card_type": "button_interaction", "event_key": event_key, "task_id": task_id},
            },
        }
        return self._push("aibot_event_callback", body, "user_click")

    def resend(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Deliver the same callback again (same msgid, a new req_id) to the same bot, as Tencent does when unsure
        it arrived."""
        kind = "user_text" if frame["cmd"] == "aibot_msg_callback" else "user_click"
        return self._push(frame["cmd"], json.loads(json.dumps(frame["body"])), kind)

    def _base(self, chatid: str, userid: str, bot: str | None) -> dict[str, Any]:
        return {
            "msgid": f"{int(time.time())}{next(self._ids):06d}{secrets.token_hex(4)}",
            "aibotid": bot or self.bot_of(chatid),
            "chatid": chatid,
            "chattype": "group",
            "from": {"userid": userid},
        }

    def _push(self, cmd: str, body: dict[str, Any], kind: str) -> dict[str, Any]:
        req_id = f"{cmd}_{secrets.token_hex(8)}"
        frame: dict[str, Any] = {"cmd": cmd, "headers": {"req_id": req_id}, "body": body}
        bot, chat = body["aibotid"], body["chatid"]
        with self._lock:
            live = self._live.get(bot)
            if live is None:
                raise RuntimeError(f"no bot is connected as {bot}")
            self._callbacks[req_id] = (bot, chat)
            self._record(chat, kind, body, req_id, bot)
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

    def drop(self, bot: str | None = None) -> None:
        """Cut this bot's live connection (None: every bot's) without a close frame, like a network failure."""
        with self._lock:
            cut = [ws for b, ws in self._live.items() if bot is None or b == bot]
            self._live = {b: ws for b, ws in self._live.items() if ws not in cut}
        if self._loop is not None:
            for ws in cut:
                self._loop.call_soon_threadsafe(ws.transport.abort)

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

    def _record(self, chat: str, kind: str, body: dict[str, Any], req_id: str, bot: str) -> None:
        """Caller holds the lock."""
        self._transcripts.setdefault(chat, []).append(
            {"kind": kind, "body": body, "time": time.time(), "req_id": req_id, "bot": bot}
        )

    def _take_slot(self, bot: str, chat: str) -> bool:
        """Whether the chat takes one more message from this bot now, and if so count it (caller holds the lock)."""
        now = time.monotonic()
        sent = self._sent_at.setdefault((bot, chat), deque())
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
        bot: str | None = None  # the bot this connection subscribed as
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                    cmd, req_id = frame.get("cmd", ""), frame.get("headers", {}).get("req_id", "")
                except (ValueError, AttributeError):
                    continue
                if cmd == "aibot_subscribe":
                    bot = await self._subscribe(ws, req_id, frame.get("body") or {})
                    if bot is None:
                        return
                elif bot is None:
                    await self._answer(ws, req_id, NOT_AUTHENTICATED, "not subscribed")
                elif cmd == "ping":
                    await self._answer(ws, req_id)
                elif cmd == "aibot_send_msg":
                    await self._send_msg(ws, bot, req_id, frame.get("body") or {})
                elif cmd in ("aibot_respond_msg", "aibot_respond_update_msg", "aibot_respond_welcome_msg"):
                    await self._respond(ws, bot, cmd, req_id, frame.get("body") or {})
                else:
                    await self._answer(ws, req_id, UNKNOWN_CMD, f"unknown cmd {cmd}")
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._live = {b: live for b, live in self._live.items() if live is not ws}

    async def _subscribe(self, ws: ServerConnection, req_id: str, body: dict[str, Any]) -> str | None:
        """The bot the connection now belongs to, or None when the credentials are wrong (the connection closed)."""
        claim = (body.get("bot_id"), body.get("secret"))
        with self._lock:
            bot = next((b for b, secret in self._secrets.items() if (b, secret) == claim), None)
            self.refused += bot is None
        if bot is None:
            await self._answer(ws, req_id, AUTH_FAILED, "invalid bot_id or secret")
            await ws.close(1008, "invalid credential")
            return None
        with self._lock:
            # A connection that subscribes again as another bot stops being the other bot's.
            self._live = {b: live for b, live in self._live.items() if live is not ws}
            old, self._live[bot] = self._live.get(bot), ws
            self.authentications += 1
        await self._answer(ws, req_id)
        if old is not None and old is not ws:
            event = {
                "cmd": "aibot_event_callback",
                "headers": {"req_id": f"aibot_event_callback_{secrets.token_hex(8)}"},
                "body": {
                    "msgid": secrets.token_hex(12),
                    "create_time": int(time.time()),
                    "aibotid": bot,
                    "msgtype": "event",
                    "event": {"eventtype": "disconnected_event"},
                },
            }
            try:
                await old.send(json.dumps(event))
                await old.close(1000, "replaced by a newer connection")
            except ConnectionClosed:
                pass
        return bot

    async def _send_msg(self, ws: ServerConnection, bot: str, req_id: str, body: dict[str, Any]) -> None:
        chat = body.get("chatid", "")
        if not chat or body.get("msgtype") not in ("markdown", "template_card"):
            await self._answer(ws, req_id, NOT_IN_CHAT, "invalid chatid or msgtype")
            return
        with self._lock:
            elsewhere = self._seats.get(chat, bot) != bot
        if elsewhere:
            await self._answer(ws, req_id, NOT_IN_CHAT, "invalid chatid: the bot is not in this chat")
            return
        errcode = self._take_failure()
        if errcode:
            await self._answer(ws, req_id, errcode, "api freq out of limit" if errcode == FREQ_LIMITED else "failed")
            return
        card = body.get("template_card") if body["msgtype"] == "template_card" else None
        task_id = card.get("task_id") if isinstance(card, dict) else None
        with self._lock:
            taken = self._task_ids.setdefault(bot, set())
            repeat = isinstance(task_id, str) and task_id in taken
            refused = card is not None and (repeat or not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id))
            self.repeats_refused += repeat
            # A push beyond the limit leaves its task_id free: the same card is taken once the window moves on.
            limited = not refused and not self._take_slot(bot, chat)
            if not refused and not limited:
                self._record(chat, "send", body, req_id, bot)
                self._pushed_by[chat] = bot
                if isinstance(card, dict) and isinstance(task_id, str):
                    taken.add(task_id)
                    self._cards.setdefault(chat, {})[task_id] = card
        if refused:
            await self._answer(ws, req_id, TASK_ID_REFUSED, "taskid has existed or empty or exceed max len")
        elif limited:
            await self._answer(ws, req_id, FREQ_LIMITED, "api freq out of limit")
        else:
            await self._answer(ws, req_id)

    async def _respond(self, ws: ServerConnection, bot: str, cmd: str, req_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            # Only the bot a callback went to may answer it: another bot's reply names no callback of its own.
            callback = self._callbacks.get(req_id)
            chat = callback[1] if callback is not None and callback[0] == bot else None
            limited = chat is not None and not self._take_slot(bot, chat)
            if chat is not None and not limited:
                kind = "update" if cmd == "aibot_respond_update_msg" else "reply"
                self._record(chat, kind, body, req_id, bot)
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
