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
- Several bots: a unit may have a bot of its own (import-org's bot_id: a street's bot in its streets' groups); each
  bot has its gateway, started with that bot's WECOM_BOT_ID and WECOM_BOT_SECRET. A gateway sends the rows stamped
  with its bot (outbox.bot); the gateway of a bot no unit names is the default and sends the rest
  (storage/outbox.served_by). A gateway answers whatever its connection delivers: a bot only hears its own groups.
- Push: every POLL_SECONDS, or soon after something is published on its bot's wake channel (or the default's),
  bot/pusher.py sends the pending rows, in order per chat and paced under WeCom's per-chat limit, through the one
  delivery pipeline (bot/delivery.py). A row is marked sent only after Tencent's ack with errcode 0, so a reconnect
  loses nothing.
- Callback handlers run inside one error guard (guarded): a failure logs its traceback and the connection goes on.
  Frames are read in bot/frames.py; the lock and the Redis loops' backoff are bot/botlock.py.
- Heartbeat and reconnect with backoff are the SDK's (wecom-aibot-python-sdk, max_reconnect_attempts=-1). Our own
  heartbeat, for /healthz, is a Redis key with a TTL written every 10 s while connected (bot/ops.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

from sqlmodel import Session

from bot import delivery, jobs, logs, ops, photolinks, pusher, runtime
from bot.botlock import BotLock, RedisTrouble
from bot.cards import TASK_ID, template_card
from bot.channels import GATEWAY_WAKE_CHANNEL, wake_channel
from bot.frames import clicked_task_id, message_from_click, message_from_image, message_from_text, ticket_number
from bot.markup import escape_markdown
from config import ConfigError, Settings
from handlers import cards, conversation
from handlers.cards import Card, card_of
from handlers.types import Outcome

with warnings.catch_warnings():
    # aibot 1.0.2 imports websockets' legacy client class for a type hint only (it connects with the new
    # websockets.connect); websockets >= 14 warns on that import.
    warnings.filterwarnings(
        "ignore", r"websockets\.(legacy|client\.WebSocketClientProtocol) is deprecated", DeprecationWarning
    )
    import aibot.ws as sdk_ws
    from aibot import WSClient, WSClientOptions, generate_req_id

log = logging.getLogger(__name__)

# bot/jobs.enqueue publishes on a bot's channel (any payload) after committing rows its gateway delivers; polling
# covers a lost one.
WAKE_CHANNEL = GATEWAY_WAKE_CHANNEL
# Without a wake-up, a pass this often: for a wake-up published while this gateway was not subscribed and a lease
# another gateway let run out. Everything else wakes the gateway itself: a commit (the channel), connecting, a
# (re)subscription, a chat's next free slot and a failed send's retry time. An idle pass is a transaction (1-2 ms of
# CPU): at 0.5 s, an idle gateway spent 4-5 ms of CPU a second, and a city runs one per street bot.
POLL_SECONDS = 5.0
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# After a wake-up the gateway gathers what commits next before a pass: it goes once GATHER_SECONDS pass without another
# wake-up, GATHER_MOST_SECONDS after the first, or at the GATHER_WAKES-th. A pass has a fixed cost (two transactions,
# the pacing call: 1-2 ms of CPU) whatever it carries, so under load a pass carries more cards and a card costs less.
# A lone complaint's card waits 50 ms, as with the fixed 50 ms gather before; at 50 msg/s the gateway's CPU per card
# fell from 2.6-3.5 to 1.3-1.7 ms (bench/RESULTS.md, eighth pass).
GATHER_SECONDS = 0.05
GATHER_MOST_SECONDS = 0.15
GATHER_WAKES = 10
_SDK_TLS = sdk_ws._SSL_CONTEXT


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


class Gateway:
    """The gateway's asyncio logic; `await Gateway(rt).run(stop)` runs until `stop` is set (or a fatal error)."""

    def __init__(
        self,
        rt: runtime.Runtime,
        *,
        poll_seconds: float = POLL_SECONDS,
        lock_ttl_ms: int = 15_000,
        heartbeat_ms: int = 30_000,
        reconnect_ms: int = 1_000,
        retry_base_seconds: float = delivery.BACKOFF_FIRST_SECONDS,
        chat_limits: tuple[tuple[int, float], ...] | None = None,
    ) -> None:
        settings = rt.settings
        if not settings.wecom_bot_id or not settings.wecom_bot_secret:
            raise ConfigError("WECOM_BOT_ID and WECOM_BOT_SECRET are required for the gateway")
        use_transport_for(settings.wecom_ws_url, settings.production)
        self.rt, self.settings = rt, settings
        self.poll_seconds, self.reconnect_ms, self.heartbeat_ms = poll_seconds, reconnect_ms, heartbeat_ms
        self.pusher = pusher.Pusher(
            rt, self._send, self._wake_in, retry_base_seconds=retry_base_seconds, limits=chat_limits
        )
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
        client.on("message.text", guarded(self._on_text))
        client.on("message.image", guarded(self._on_image))
        client.on("event.template_card_event", guarded(self._on_click))
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
        task_id = clicked_task_id(frame.get("body") or {})
        assert self.client is not None
        if card is not None and isinstance(task_id, str) and TASK_ID.fullmatch(task_id):
            await self._count_answer(frame)  # an update counts like a reply
            try:  # first: Tencent takes a card update only within 5 s of the click
                photos_url = photolinks.ticket_page(self.rt.settings, card.number) if card.photos else ""
                tapped = template_card(card, task_id, photos_url=photos_url)
                await self.client.update_template_card(frame, tapped)  # the card tapped
            except Exception as failure:
                log.warning("card %s not updated: %s", task_id, failure)
        await self._reply(frame, outcome)
        await self._hand_over(outcome)

    async def _reply(self, frame: dict[str, Any], outcome: Outcome) -> None:
        if not outcome.reply.text:
            return
        assert self.client is not None
        await self._count_answer(frame)
        try:
            # A stream is markdown, and replies quote residents' words (查 12 shows the complaint).
            content = escape_markdown(outcome.reply.text)
            await self.client.reply_stream(frame, generate_req_id("stream"), content, finish=True)
        except Exception as failure:  # the user asks again; a repeated delivery gets the stored reply
            log.warning("reply to %s not delivered: %s", frame.get("headers", {}).get("req_id"), failure)

    async def _count_answer(self, frame: dict[str, Any]) -> None:
        """A reply or a card update counts toward its chat's limit: it takes a slot (even from a full window: the
        worker is waiting for it), and the pushes behind it wait."""
        if chat := str((frame.get("body") or {}).get("chatid") or ""):
            await asyncio.to_thread(self.pusher.take_slot, chat, True)

    async def _hand_over(self, outcome: Outcome) -> None:
        if outcome.queued:
            await asyncio.to_thread(jobs.enqueue, self.rt, outcome.queued)
            self._wake.set()

    def _card(self, number: int | None) -> Card | None:
        if number is None:
            return None
        with Session(self.rt.engine) as session:
            return card_of(session, number)

    # ---- push -------------------------------------------------------------------------------------------------

    async def _listen_for_wakes(self) -> None:
        trouble = RedisTrouble("gateway wake-up channel")
        while not self._stop.is_set():
            pubsub = self.rt.redis.pubsub(ignore_subscribe_messages=True)
            try:
                # Its bot's own channel, and the default bot's: whether this gateway is the default is the database's
                # to say (no unit names its bot), and may change with an import.
                await asyncio.to_thread(pubsub.subscribe, WAKE_CHANNEL, wake_channel(self.settings.wecom_bot_id))
                trouble.worked()
                self._wake.set()  # what was published while this gateway was not listening
                while not self._stop.is_set():
                    if await asyncio.to_thread(pubsub.get_message, timeout=0.5):
                        self._wake.set()
            except Exception as error:  # polling goes on meanwhile
                await self._sleep(trouble.failed(error))
            finally:
                await asyncio.to_thread(pubsub.close)

    async def _send(self, chat: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.client is not None
        ack: dict[str, Any] = await self.client.send_message(chat, body)
        return ack

    def _wake_in(self, seconds: float) -> None:
        """Push again once a chat's next slot is free (from the pusher, in the event loop)."""
        asyncio.get_running_loop().call_later(seconds, self._wake.set)

    async def push_once(self) -> int:
        return await self.pusher.push_once()

    async def _gather(self) -> None:
        """What commits in the next moments goes in the same pass: one lease and one mark for all of it. Waits while
        wake-ups keep coming, GATHER_SECONDS apart at most, up to GATHER_MOST_SECONDS or GATHER_WAKES of them."""
        loop = asyncio.get_running_loop()
        end = loop.time() + GATHER_MOST_SECONDS
        for _ in range(GATHER_WAKES - 1):
            self._wake.clear()
            left = min(GATHER_SECONDS, end - loop.time())
            if left <= 0 or self._stop.is_set():
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=left)
            except TimeoutError:
                return

    async def _push_loop(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                await self._gather()
            except TimeoutError:
                pass
            self._wake.clear()
            if not self._online.is_set() or self._stop.is_set():
                continue
            try:
                await self.push_once()
            except Exception:
                log.exception("push cycle failed; retrying")


Handler = Callable[[dict[str, Any]], Awaitable[None]]


def guarded(handler: Handler) -> Handler:
    """The one error guard of the callback handlers: a handler that fails logs its traceback, with the frame's
    req_id, and the connection goes on (the SDK would otherwise drop the exception without a word)."""

    @functools.wraps(handler)
    async def guard(frame: dict[str, Any]) -> None:
        try:
            await handler(frame)
        except Exception:
            req_id = (frame.get("headers") or {}).get("req_id") if isinstance(frame, dict) else None
            log.exception("callback handler %s failed", handler.__name__, extra={"req_id": req_id})

    return guard


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
    cards.warm_up()
    try:
        return asyncio.run(serve(rt))
    except ConfigError as error:
        print(f"bot.gateway: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
