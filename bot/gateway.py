"""The WeCom AI-bot gateway: `python -m bot.gateway`, one long-lived process per bot.

It holds the bot's only WebSocket connection (Tencent keeps one per bot: a newer one displaces the older), so it
both receives workers' @-messages and card clicks and delivers the group pushes ("group_push",
"supervisor_notice" outbox rows); rq workers must leave those kinds alone while a bot id is configured.

- One per bot: a Redis lock (`SET NX PX`, renewed every third of its lifetime) is taken before connecting; a second
  gateway for the same bot waits until it is free. Released on SIGTERM/SIGINT. Redis away (down, hanging,
  restarted empty) stops nothing: each Redis loop retries with backoff, and a lock key that vanished is taken back;
  only another gateway's token in it means stop.
- Receive: callback -> handlers.types.Message -> handlers.conversation.process (in a thread: it is sync and uses
  the database) -> stream reply to the callback; a click also updates the card in place (Tencent allows 5 s).
- Push: every POLL_SECONDS, or at once when something is published on WAKE_CHANNEL, pending rows are sent in id
  order per chat. A chat whose head row failed transiently (45009, -1, timeout, lost connection) waits out its
  backoff and nothing behind it overtakes it; other chats go on. A row is marked sent only after Tencent's ack
  with errcode 0, so a reconnect loses nothing. A card carries a task_id that is the same on every attempt of its
  row (bot/cards.task_id_for) and Tencent refuses a task_id it has seen (42014), so a card whose ack was lost is
  shown once: the refusal of the repeat marks the row sent. A markdown text has no such id: when its ack is lost
  (the connection drops, or the ack takes longer than the SDK's 5 s) it is sent again, at least once.
- Heartbeat and reconnect with backoff are the SDK's (wecom-aibot-python-sdk, max_reconnect_attempts=-1). Our own
  heartbeat, for /healthz, is a Redis key with a TTL written every 10 s while connected (bot/ops.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from redis import Redis
from sqlmodel import Session

from bot import jobs, logs, ops, runtime
from bot.cards import TASK_ID, TASK_ID_REFUSED, card_message, markdown_message, task_id_for, template_card
from bot.channels import GATEWAY_KINDS, GATEWAY_WAKE_CHANNEL
from bot.markup import escape_markdown, mention
from bot.wechat import MAX_DEDUPE_KEY
from config import ConfigError, Settings
from handlers import conversation, notices, notify
from handlers.cards import Card, card_for
from handlers.types import Message, Outcome
from storage import outbox
from storage.db import transaction
from storage.models import Outbox, Ticket, utcnow

with warnings.catch_warnings():
    # aibot 1.0.2 imports websockets' legacy client class for a type hint only (it connects with the new
    # websockets.connect); websockets >= 14 warns on that import.
    warnings.filterwarnings(
        "ignore", r"websockets\.(legacy|client\.WebSocketClientProtocol) is deprecated", DeprecationWarning
    )
    import aibot.ws as sdk_ws
    from aibot import WSClient, WSClientOptions, generate_req_id

log = logging.getLogger(__name__)

# bot/jobs.enqueue publishes here (any payload) after committing rows the gateway delivers; polling covers a lost one.
WAKE_CHANNEL = GATEWAY_WAKE_CHANNEL
PUSH_KINDS = GATEWAY_KINDS
# -1 system busy, 45009 frequency limit (a chat takes 30 messages/min): worth retrying. Other errcodes are final.
RETRYABLE_ERRCODES = frozenset({-1, 45009})
# A row is leased just before its send and marked sent on Tencent's ack, which the SDK waits at most 5 s for: 15 s
# covers that. A gateway that dies mid-send holds its chats' queues until the lease runs out, about as long as its
# successor waits for the bot lock (15 s); a 60 s lease held them a minute after the successor was online.
LEASE_SECONDS = 15
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_SDK_TLS = sdk_ws._SSL_CONTEXT


def lock_key(bot_id: str) -> str:
    return f"wanggetong:gateway:{bot_id}"


class BotLock:
    """`SET NX PX` with a random token; renew and release only while the token is still ours."""

    # 1: renewed. 2: the key was gone and is ours again: a Redis restarted without its data (or flushed) forgot the
    # lock while this gateway stayed connected, and no other gateway can have connected since without taking it.
    # 0: another gateway's token is there.
    _RENEW = """
local held = redis.call('get', KEYS[1])
if held == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if not held then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0"""
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
    RENEWED, RETAKEN, LOST = 1, 2, 0

    def __init__(self, redis: Redis, bot_id: str, ttl_ms: int) -> None:
        self.redis, self.key, self.ttl_ms = redis, lock_key(bot_id), ttl_ms
        self.token = uuid.uuid4().hex

    def acquire(self) -> bool:
        return bool(self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self) -> int:
        """RENEWED, RETAKEN (the key had vanished) or LOST (another gateway holds it)."""
        return int(self.redis.eval(self._RENEW, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> None:
        self.redis.eval(self._RELEASE, 1, self.key, self.token)


class RedisTrouble:
    """One loop's view of a Redis that keeps failing: growing waits between attempts (0.5 s doubling up to 30 s),
    one warning when the trouble starts and one line when it ends, rather than a traceback every few seconds."""

    FIRST, MOST = 0.5, 30.0

    def __init__(self, what: str) -> None:
        self.what = what
        self.failures = 0

    def failed(self, error: BaseException) -> float:
        """Note a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        if self.failures == 1:
            log.warning("%s: Redis unavailable (%s); retrying until it answers", self.what, error, exc_info=error)
        else:
            log.debug("%s: Redis still unavailable (%s)", self.what, error)
        return min(self.MOST, self.FIRST * 2 ** (self.failures - 1))

    def worked(self) -> None:
        if self.failures:
            log.info("%s: Redis answers again after %d failed attempts", self.what, self.failures)
        self.failures = 0


# ---- frames -> Message --------------------------------------------------------------------------------------------

MENTION = re.compile(r"^\s*@\S+\s*")


def from_frame(body: dict[str, Any], kind: str, **fields: Any) -> Message | None:
    """The Message for a callback body: who, which chat, which delivery (msgid); None without a sender or msgid."""
    source = body.get("from")
    sender = source.get("userid") if isinstance(source, dict) else None
    msgid, chat_id = body.get("msgid"), body.get("chatid") or sender
    if not isinstance(sender, str) or not 0 < len(sender) <= 64 or not isinstance(chat_id, str):
        return None  # a WeCom userid is at most 64 characters; anything else is not a person on the roster
    if not isinstance(msgid, str | int) or not str(msgid):
        return None
    return Message(
        channel="wecom", dedupe_key=str(msgid)[:MAX_DEDUPE_KEY], sender=sender, kind=kind, chat_id=chat_id, **fields
    )


def message_from_text(body: dict[str, Any]) -> Message | None:
    """An aibot_msg_callback text body; in a group the text starts with "@botname ", which is no part of it."""
    text = str(_field(body, "text").get("content", ""))
    if body.get("chattype") == "group":
        text = MENTION.sub("", text, count=1)
    return from_frame(body, "text", text=text)


def message_from_image(body: dict[str, Any]) -> Message | None:
    """An aibot_msg_callback image body: a worker's after-photo (its url is encrypted with image.aeskey)."""
    return from_frame(body, "image", pic_url=str(_field(body, "image").get("url", ""))[:512])


def message_from_click(body: dict[str, Any]) -> Message | None:
    """An aibot_event_callback template_card_event body."""
    event = _field(_field(body, "event"), "template_card_event")
    return from_frame(body, "event", event="template_card_event", event_key=str(event.get("event_key", "")))


def _field(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A nested object of a frame, or {} when it is missing or not an object."""
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def ticket_number(event_key: str) -> int | None:
    """ "accept:12" -> 12."""
    number = event_key.rpartition(":")[2]
    return int(number) if number.isdecimal() and number.isascii() else None


ERRCODE = re.compile(r"errcode=(-?\d+)")


def errcode_of(failure: BaseException) -> int | None:
    """The SDK reports a refused ack as RuntimeError("... errcode=N ..."); None for the transport's failures."""
    found = ERRCODE.search(str(failure))
    return None if found is None else int(found.group(1))


def is_retryable(failure: BaseException) -> bool:
    errcode = errcode_of(failure)
    return errcode is None or errcode in RETRYABLE_ERRCODES


class _SdkLog:
    """The SDK's logger protocol (it says warn) onto logging."""

    def __init__(self) -> None:
        self.log = logging.getLogger("aibot")

    def debug(self, message: str, *args: Any) -> None:
        self.log.debug(message)

    def info(self, message: str, *args: Any) -> None:
        self.log.info(message)

    def warn(self, message: str, *args: Any) -> None:
        self.log.warning(message)

    def error(self, message: str, *args: Any) -> None:
        self.log.error(message)


def use_transport_for(url: str, production: bool) -> None:
    """Let the SDK reach a ws:// stand-in on loopback; wss:// (Tencent) keeps the SDK's own TLS context.

    The SDK passes ssl=<certifi context> to websockets.connect whatever the URL, and websockets refuses any ssl
    argument for ws://. Resetting the SDK's module context to None for a loopback ws:// URL is the smallest change
    that works; the alternative (the simulator serving wss with a throwaway CA that the gateway adds to the SDK's
    context) changes the same global, needs a CA-file setting, and tests nothing of ours.
    """
    parsed = urlparse(url)
    if parsed.scheme == "ws":
        if production or parsed.hostname not in LOOPBACK:
            raise ConfigError("WECOM_WS_URL: ws:// 只能用于本机模拟器；生产环境请使用 wss://openws.work.weixin.qq.com")
        sdk_ws._SSL_CONTEXT = None  # type: ignore[assignment]
    elif parsed.scheme == "wss":
        sdk_ws._SSL_CONTEXT = _SDK_TLS
    else:
        raise ConfigError(f"WECOM_WS_URL must be wss:// (got {url!r})")


@dataclass(frozen=True)
class _Prepared:
    body: dict[str, Any]
    attempts: int
    kind: str = ""
    ticket_id: int | None = None
    task_id: str = ""  # a card's: Tencent refuses it a second time


class Gateway:
    """The gateway's asyncio logic; `await Gateway(rt).run(stop)` runs until `stop` is set (or a fatal error)."""

    def __init__(
        self,
        rt: runtime.Runtime,
        *,
        poll_seconds: float = 0.5,
        lock_ttl_ms: int = 15_000,
        heartbeat_ms: int = 30_000,
        reconnect_ms: int = 1_000,
        retry_base_seconds: float = 2.0,
        max_retry_seconds: float = 300.0,
    ) -> None:
        settings = rt.settings
        if not settings.wecom_bot_id or not settings.wecom_bot_secret:
            raise ConfigError("WECOM_BOT_ID and WECOM_BOT_SECRET are required for the gateway")
        use_transport_for(settings.wecom_ws_url, settings.production)
        self.rt, self.settings = rt, settings
        self.poll_seconds, self.reconnect_ms, self.heartbeat_ms = poll_seconds, reconnect_ms, heartbeat_ms
        self.retry_base_seconds, self.max_retry_seconds = retry_base_seconds, max_retry_seconds
        self.lock = BotLock(rt.redis, settings.wecom_bot_id, lock_ttl_ms)
        self.state = "new"  # waiting (for the lock) | connecting | online | stopped
        self.fatal = ""  # why the gateway gave up on its own (displaced, lost lock, refused credentials)
        self.client: WSClient | None = None
        self._stop = asyncio.Event()
        self._online = asyncio.Event()
        self._wake = asyncio.Event()
        self._beat_now = asyncio.Event()  # Redis came back empty: write the heartbeat again without waiting
        self._tasks: set[asyncio.Task[Any]] = set()

    # ---- life cycle -------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        self._stop = stop or asyncio.Event()
        if not await self._acquire():
            self.state = "stopped"
            return
        try:
            self.state = "connecting"
            self.client = self._make_client()
            for job in (
                self._renew_lock(),
                self._heartbeat(),
                self._listen_for_wakes(),
                self._push_loop(),
                self.client.connect(),
            ):
                self._spawn(job)
            await self._stop.wait()
        finally:
            await self._shutdown()

    def stop(self, reason: str = "") -> None:
        if reason:
            self.fatal = reason
            log.error("gateway stops: %s", reason)
        self._stop.set()

    def _spawn(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _acquire(self) -> bool:
        waited = False
        trouble = RedisTrouble("gateway lock")
        while not self._stop.is_set():
            try:
                taken = await asyncio.to_thread(self.lock.acquire)
            except Exception as error:  # Redis not started yet, or restarting: wait for it, as for another gateway
                self.state = "waiting"
                await self._sleep(trouble.failed(error))
                continue
            trouble.worked()
            if taken:
                return True
            if not waited:
                log.info("another gateway holds %s; waiting for it", self.lock.key)
                waited = True
            self.state = "waiting"
            await self._sleep(self.lock.ttl_ms / 3000)
        return False

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once on stop."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _shutdown(self) -> None:
        client = self.client
        if client is not None:
            client.disconnect()
            for _ in range(100):  # the SDK closes asynchronously; give it up to a second
                if not client.is_connected:
                    break
                await asyncio.sleep(0.01)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await asyncio.to_thread(ops.forget_heartbeat, self.rt.redis, self.settings.wecom_bot_id)
            await asyncio.to_thread(self.lock.release)
        except Exception:  # Redis away: the lock and the heartbeat run out by themselves
            log.warning("could not release %s", self.lock.key, exc_info=True)
        self._online.clear()
        self.state = "stopped"

    async def _renew_lock(self) -> None:
        # At the same pace whatever happens: while Redis is away the key may run out (or vanish with a restart), and
        # RETAKEN puts it back once Redis answers, unless another gateway has taken it meanwhile.
        trouble = RedisTrouble("gateway lock renewal")
        while not self._stop.is_set():
            await self._sleep(self.lock.ttl_ms / 3000)
            if self._stop.is_set():
                return
            try:
                held = await asyncio.to_thread(self.lock.renew)
            except Exception as error:
                trouble.failed(error)
                continue
            trouble.worked()
            if held == BotLock.RETAKEN:
                log.warning("%s had vanished from Redis (restarted or flushed); taken back", self.lock.key)
                self._beat_now.set()
            elif held == BotLock.LOST:
                self.stop("lost the gateway lock (another gateway may be connected now)")

    async def _heartbeat(self) -> None:
        """While connected, say so every HEARTBEAT_SECONDS (and at once on connecting, and when Redis turns out to
        have forgotten everything): /healthz reads the age."""
        beaten, retry_at = 0.0, 0.0
        trouble = RedisTrouble("gateway heartbeat")
        while not self._stop.is_set():
            if self._beat_now.is_set():
                self._beat_now.clear()
                beaten = 0.0
            now = time.monotonic()
            if not self._online.is_set():
                beaten = 0.0
            elif now - beaten >= ops.HEARTBEAT_SECONDS and now >= retry_at:
                try:
                    await asyncio.to_thread(ops.beat, self.rt.redis, self.settings.wecom_bot_id)
                except Exception as error:
                    retry_at = time.monotonic() + trouble.failed(error)
                else:
                    trouble.worked()
                    beaten = time.monotonic()
            await self._sleep(0.5)

    def _make_client(self) -> WSClient:
        client = WSClient(
            WSClientOptions(
                bot_id=self.settings.wecom_bot_id,
                secret=self.settings.wecom_bot_secret,
                ws_url=self.settings.wecom_ws_url,
                heartbeat_interval=self.heartbeat_ms,
                reconnect_interval=self.reconnect_ms,
                max_reconnect_attempts=-1,
                logger=_SdkLog(),
            )
        )
        client.on("authenticated", self._on_authenticated)
        client.on("disconnected", self._on_disconnected)
        client.on("error", self._on_error)
        client.on("message.text", self._on_text)
        client.on("message.image", self._on_image)
        client.on("event.template_card_event", self._on_click)
        client.on("event.disconnected_event", self._on_displaced)
        return client

    def _on_authenticated(self) -> None:
        log.info("gateway online as bot %s", self.settings.wecom_bot_id)
        self.state = "online"
        self._online.set()
        self._wake.set()

    def _on_disconnected(self, reason: str = "") -> None:
        log.warning("connection lost (%s); the SDK reconnects", reason)
        if self.state == "online":
            self.state = "connecting"
        self._online.clear()

    def _on_error(self, error: BaseException) -> None:
        if "Authentication failed" in str(error):
            self.stop(f"Tencent refused the bot id or secret: {error}")
        else:
            log.warning("AI-bot connection: %s", error)

    def _on_displaced(self, frame: dict[str, Any]) -> None:
        # Reconnecting would displace the other connection in turn, and both would flap.
        self.stop("a newer connection for this bot displaced ours (is another gateway running elsewhere?)")

    # ---- receive ----------------------------------------------------------------------------------------------

    async def _on_text(self, frame: dict[str, Any]) -> None:
        msg = message_from_text(frame.get("body") or {})
        if msg is None:
            return
        outcome = await asyncio.to_thread(conversation.process, self.rt.engine, msg)
        await self._reply(frame, outcome)
        await self._hand_over(outcome)

    async def _on_image(self, frame: dict[str, Any]) -> None:
        msg = message_from_image(frame.get("body") or {})
        if msg is None:
            return
        outcome = await asyncio.to_thread(conversation.process, self.rt.engine, msg)
        await self._reply(frame, outcome)

    async def _on_click(self, frame: dict[str, Any]) -> None:
        msg = message_from_click(frame.get("body") or {})
        if msg is None:
            return
        outcome = await asyncio.to_thread(conversation.process, self.rt.engine, msg)
        card = await asyncio.to_thread(self._card, ticket_number(msg.event_key))
        task_id = _field(_field(frame.get("body") or {}, "event"), "template_card_event").get("task_id")
        assert self.client is not None
        if card is not None and isinstance(task_id, str) and TASK_ID.fullmatch(task_id):
            try:  # first: Tencent takes a card update only within 5 s of the click
                await self.client.update_template_card(frame, template_card(card, task_id))  # the card tapped
            except Exception as failure:
                log.warning("card %s not updated: %s", task_id, failure)
        await self._reply(frame, outcome)
        await self._hand_over(outcome)

    async def _reply(self, frame: dict[str, Any], outcome: Outcome) -> None:
        if not outcome.reply.text:
            return
        assert self.client is not None
        try:
            # A stream is markdown, and replies quote residents' words (查 12 shows the complaint).
            content = escape_markdown(outcome.reply.text)
            await self.client.reply_stream(frame, generate_req_id("stream"), content, finish=True)
        except Exception as failure:  # the user asks again; a repeated delivery gets the stored reply
            log.warning("reply to %s not delivered: %s", frame.get("headers", {}).get("req_id"), failure)

    async def _hand_over(self, outcome: Outcome) -> None:
        if outcome.queued:
            await asyncio.to_thread(jobs.enqueue, self.rt, outcome.queued)
            self._wake.set()

    def _card(self, number: int | None) -> Card | None:
        if number is None:
            return None
        with Session(self.rt.engine) as session:
            ticket = session.get(Ticket, number)
            return card_for(session, ticket) if ticket else None

    # ---- push -------------------------------------------------------------------------------------------------

    async def _listen_for_wakes(self) -> None:
        trouble = RedisTrouble("gateway wake-up channel")
        while not self._stop.is_set():
            pubsub = self.rt.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await asyncio.to_thread(pubsub.subscribe, WAKE_CHANNEL)
                trouble.worked()
                while not self._stop.is_set():
                    if await asyncio.to_thread(pubsub.get_message, timeout=0.5):
                        self._wake.set()
            except Exception as error:  # polling goes on meanwhile
                await self._sleep(trouble.failed(error))
            finally:
                await asyncio.to_thread(pubsub.close)

    async def _push_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            if not self._online.is_set() or self._stop.is_set():
                continue
            try:
                await self.push_once()
            except Exception:
                log.exception("push cycle failed; retrying")

    async def push_once(self) -> int:
        """One pass over pending rows; returns how many were sent."""
        rows = await asyncio.to_thread(self._pending)
        queues: dict[str, list[tuple[int, bool]]] = {}
        for outbox_id, kind, recipient, held in rows:
            chat = self.settings.supervisor_chat_id if kind == "supervisor_notice" else recipient
            queues.setdefault(chat, []).append((outbox_id, held))
        sent = await asyncio.gather(*(self._drain(chat, items) for chat, items in queues.items()))
        return sum(sent)

    def _pending(self) -> list[tuple[int, str, str, bool]]:
        with Session(self.rt.engine) as session:  # a reader: never takes SQLite's write lock
            return outbox.pending(session, PUSH_KINDS, utcnow())

    async def _drain(self, chat: str, items: list[tuple[int, bool]]) -> int:
        """Send one chat's rows in order; stop at a held head or a transient failure, so nothing overtakes."""
        sent = 0
        for outbox_id, held in items:
            if held:
                return sent
            result = await self._deliver(outbox_id, chat)
            if result == "sent":
                sent += 1
            elif result in ("retry", "skipped"):
                return sent
        return sent

    async def _deliver(self, outbox_id: int, chat: str) -> str:
        prepared = await asyncio.to_thread(self._lease_and_render, outbox_id, chat)
        if not isinstance(prepared, _Prepared):
            return prepared
        assert self.client is not None
        try:
            ack = await self.client.send_message(chat, prepared.body)
            if ack.get("errcode", 0) != 0:
                raise RuntimeError(f"ack errcode={ack.get('errcode')}, errmsg={ack.get('errmsg')}")
        except Exception as failure:
            if prepared.task_id and errcode_of(failure) == TASK_ID_REFUSED:
                # Only an earlier attempt of this row can have used its task_id: that card is in the chat already,
                # its ack was lost (the connection dropped, or the ack came after the SDK stopped waiting).
                await asyncio.to_thread(self._sent, outbox_id, prepared, "already")
                return "sent"
            retry = is_retryable(failure)
            await asyncio.to_thread(self._failed, outbox_id, str(failure) or type(failure).__name__, retry, prepared)
            log.warning("outbox %s to %s not sent (%s): %s", outbox_id, chat, "retry" if retry else "final", failure)
            return "retry" if retry else "failed"
        await asyncio.to_thread(self._sent, outbox_id, prepared)
        return "sent"

    def _lease_and_render(self, outbox_id: int, chat: str) -> _Prepared | str:
        now = utcnow()
        with transaction(self.rt.engine) as session:
            row = outbox.lease(session, outbox_id, now, LEASE_SECONDS)
            if row is None:
                return "skipped"
            body, error = self._render(session, row, chat)
            if body is None:
                outbox.mark_failed(session, row, error, permanent=True, now=now, retry_in=0)
                log.error("outbox %s not sendable: %s", outbox_id, error, extra={"ticket_id": row.ticket_id})
                ops.count_delivery(self.rt.redis, row.kind, "failed")
                return "failed"
            card = body.get("template_card") or {}
            return _Prepared(body, row.attempts, row.kind, row.ticket_id, str(card.get("task_id", "")))

    def _render(self, session: Any, row: Outbox, chat: str) -> tuple[dict[str, Any] | None, str]:
        if not chat:
            if row.kind == "supervisor_notice":
                return None, "WECOM_SUPERVISOR_CHAT_ID is not set: no chat for supervisor notices"
            return None, "the grid has no WeCom chat_id"
        if row.kind == "group_push" and row.event in notify.CARD_EVENTS:
            ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
            if ticket is None:
                return None, f"ticket {row.ticket_id} not found"
            headline = notices.GROUP_HEADLINES.get(row.event, "")
            assert row.id is not None and ticket.id is not None
            task_id = task_id_for(ticket.id, row.id, row.created_at)
            return card_message(card_for(session, ticket), task_id, headline), ""
        text = notices.render(session, row)
        if not text:
            return None, f"nothing to say for ticket {row.ticket_id}"
        payload = json.loads(row.payload or "{}")
        return markdown_message(
            mention(escape_markdown(text), payload.get("worker", ""), payload.get("mention", ""))
        ), ""

    def _sent(self, outbox_id: int, prepared: _Prepared, result: str = "sent") -> None:
        """Mark the row sent; result "already": Tencent refused a repeat of a card that had arrived."""
        with transaction(self.rt.engine) as session:
            row = session.get(Outbox, outbox_id)
            assert row is not None
            outbox.mark_sent(session, row, utcnow())
            row.via = "aibot"
            session.add(row)
        ops.count_delivery(self.rt.redis, prepared.kind, result)
        log.info(
            "delivery sent" if result == "sent" else "delivery had arrived (its ack was lost); not repeated",
            extra={"outbox_id": outbox_id, "ticket_id": prepared.ticket_id, "kind": prepared.kind, "via": "aibot"},
        )

    def _failed(self, outbox_id: int, error: str, retry: bool, prepared: _Prepared) -> None:
        now = utcnow()
        with transaction(self.rt.engine) as session:
            row = session.get(Outbox, outbox_id)
            assert row is not None
            if retry:
                backoff = min(self.max_retry_seconds, self.retry_base_seconds * 2 ** max(0, prepared.attempts - 1))
                outbox.postpone(session, row, error, now + timedelta(seconds=backoff))
            else:
                outbox.mark_failed(session, row, error, permanent=True, now=now, retry_in=0)
        ops.count_delivery(self.rt.redis, prepared.kind, "retry" if retry else "failed")


async def serve(rt: runtime.Runtime) -> int:
    """Run until SIGTERM/SIGINT; the exit status says whether the gateway gave up by itself."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(rt)
    await gateway.run(stop)
    return 1 if gateway.fatal else 0


def main() -> int:
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_format)
        rt = runtime.Runtime(settings)
        if not rt.settings.wecom_bot_id:
            raise ConfigError("WECOM_BOT_ID is not set: there is no AI bot to connect")
    except ConfigError as error:
        print(f"bot.gateway: {error}", file=sys.stderr)
        return 2
    runtime.install(rt)
    try:
        return asyncio.run(serve(rt))
    except ConfigError as error:
        print(f"bot.gateway: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
