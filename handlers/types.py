"""The channel-neutral shapes bot/ hands in and gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storage.outbox import Queued


@dataclass(frozen=True)
class Message:
    channel: str  # "wechat" (Official Account), later "wecom"
    dedupe_key: str  # MsgId, or sender+CreateTime for events
    sender: str  # openid / WeCom userid
    kind: str  # text | image | voice | location | event | other
    text: str = ""
    chat_id: str = ""
    media_id: str = ""
    pic_url: str = ""
    lat: float | None = None
    lng: float | None = None
    label: str = ""
    event: str = ""  # subscribe | unsubscribe | click | scan | location | ...
    event_key: str = ""
    created_at: datetime | None = None


@dataclass(frozen=True)
class Reply:
    """What to answer at once; empty text means answer nothing (WeChat's `success`)."""

    text: str = ""


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    # Outbox rows written in the message's transaction (storage.outbox.queued): enqueue them after commit.
    queued: list[Queued] = field(default_factory=list)
    duplicate: bool = False
