"""Where notifications go. Until the WeCom group channel lands, every delivery is recorded to a JSONL file."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from storage.models import OutboxKind

# An AI-bot gateway holds its bot's only connection to the groups, so it sends these kinds itself; rq workers leave
# them alone whenever a bot is configured, and wake the bot's gateway through a Redis channel after enqueueing.
GATEWAY_KINDS = (OutboxKind.GROUP_PUSH, OutboxKind.SUPERVISOR_NOTICE)
GATEWAY_WAKE_CHANNEL = "wanggetong:gateway:wake"


def wake_channel(bot: str) -> str:
    """Where a gateway hears of new rows for its bot: a unit's bot (outbox.bot) has its own channel, so a new card
    in one street wakes that street's gateway only; the default bot's rows (bot "") wake GATEWAY_WAKE_CHANNEL."""
    return f"{GATEWAY_WAKE_CHANNEL}:{bot}" if bot else GATEWAY_WAKE_CHANNEL


# Worth another try later, on either platform (WeChat and WeCom share these codes); any other errcode is final.
RETRYABLE_ERRCODES = frozenset(
    {
        -1,  # 系统繁忙
        45009,  # 接口调用超过限制: an API quota, a chat's or a robot's frequency limit
        45011,  # API 调用太频繁
        # An access token refused (40001, 40014, 42001: the Official Account refreshes it once first), and
        # credentials or the IP allow-list (40013, 40125, 40164): an operator can fix them, and the notice waits in
        # the outbox instead of being lost.
        40001,
        40014,
        42001,
        40013,
        40125,
        40164,
    }
)


def retryable(errcode: int | None) -> bool:
    """Whether a refusal is worth another try; None (no errcode: the connection failed, an HTTP error page) is."""
    return errcode is None or errcode in RETRYABLE_ERRCODES


@dataclass(frozen=True)
class Delivery:
    outbox_id: int
    kind: str  # an OutboxKind
    event: str
    recipient: str
    text: str
    # Names this row for "sent already?" records kept outside the database: ids alone restart when a database is
    # restored or reset, and a stale record would then swallow a new notice.
    idempotency_key: str = ""
    # A group push that @-mentions a worker: their name as written in the text, and their WeCom userid.
    mention_name: str = ""
    mention_userid: str = ""

    @property
    def once_key(self) -> str:
        return self.idempotency_key or str(self.outbox_id)


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    def send(self, delivery: Delivery) -> str:
        """Deliver, or raise DeliveryError; returns how it went out (stored as Outbox.via)."""
        ...


class RecordingChannel:
    """Appends each delivery as one JSON line; O_APPEND keeps lines whole across worker processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, delivery: Delivery) -> str:
        line = (json.dumps(asdict(delivery), ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return "recording"

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


class KindRouter:
    """One channel per kind of notification, a default for the rest."""

    def __init__(self, routes: dict[str, Channel], default: Channel) -> None:
        self.routes, self.default = routes, default

    def send(self, delivery: Delivery) -> str:
        return self.routes.get(delivery.kind, self.default).send(delivery)
