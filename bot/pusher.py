"""The gateway's pushes: group cards and centre notices over the AI bot's connection, in order per chat, paced.

Every POLL_SECONDS, or at once when something is published on the wake channel, pending rows of the gateway's kinds
are read (urgent tickets' first, storage/outbox.pending) and each chat's are sent in that order through the one
delivery pipeline (bot/delivery.py: lease, render, send, mark, retry):

- A chat whose head row failed transiently (45009, -1, a timeout, a lost connection) waits out its backoff, and
  nothing behind it overtakes it; other chats go on.
- Each chat is paced under WeCom's limit (30 messages a minute and 1,000 an hour per conversation, replies and
  pushes together: the gateway's replies take their slots too) instead of meeting 45009: a chat at its limit waits
  for its next slot, which goes to its most urgent row.
- A row is marked sent only after Tencent's ack with errcode 0. A card's task_id is the same on every attempt of its
  row (bot/cards.task_id_for) and Tencent refuses a task_id it has seen (42014), so a card whose ack was lost is
  shown once: the refusal of the repeat marks the row sent. A markdown text has no such id: when its ack is lost
  it is sent again (at least once).
- WECOM_BOT_PUSH=markdown sends every push as markdown, cards included (their text with the typed commands), for
  tenants where WeCom refuses actively pushed template cards in groups.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from bot import delivery, photolinks, runtime
from bot.cards import TASK_ID_REFUSED, card_message, markdown_message, task_id_for
from bot.channels import GATEWAY_KINDS
from bot.frames import errcode_of, is_retryable
from bot.markup import escape_markdown, mention
from bot.pacing import Pace
from config import Settings
from handlers import notices, notify
from handlers.cards import card_of
from storage import outbox
from storage.models import OutboxKind, utcnow

log = logging.getLogger(__name__)

# A row is leased just before its send and marked sent on Tencent's ack, which the SDK waits at most 5 s for: 15 s
# covers that. A gateway that dies mid-send holds its chats' queues until the lease runs out, about as long as its
# successor waits for the bot lock (15 s).
LEASE_SECONDS = 15
# Tencent counts a message when it arrives, a little after we took its slot: our windows are this much longer.
WINDOW_MARGIN_SECONDS = 2.0


def chat_limits(settings: Settings) -> tuple[tuple[int, float], ...]:
    """WeCom's frequency limit for what an AI bot says in one conversation ("无论是回复还是主动推送消息，总共给某个
    会话发消息的限制为 30 条/分钟，1000 条/小时", developer.work.weixin.qq.com/document/path/101463)."""
    return (
        (settings.wecom_chat_per_minute, 60.0 + WINDOW_MARGIN_SECONDS),
        (settings.wecom_chat_per_hour, 3600.0 + WINDOW_MARGIN_SECONDS),
    )


Send = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Body:
    message: dict[str, Any]
    task_id: str = ""  # a card's: Tencent refuses it a second time


class Pusher:
    """Sends the gateway's pending rows; `send(chat, body)` is the connection's send, returning Tencent's ack, and
    `wake_later(seconds)` asks for another pass once a full chat has a free slot again."""

    def __init__(
        self,
        rt: runtime.Runtime,
        send: Send,
        wake_later: Callable[[float], None],
        *,
        retry_base_seconds: float = delivery.BACKOFF_FIRST_SECONDS,
        limits: tuple[tuple[int, float], ...] | None = None,
    ) -> None:
        self.rt, self.settings, self.send = rt, rt.settings, send
        self.retry_base_seconds = retry_base_seconds
        windows = limits or chat_limits(rt.settings)
        self.pace = Pace(rt.redis, f"wgt:aibot:{rt.settings.wecom_bot_id}:chat", windows)
        self.markdown_only = rt.settings.wecom_bot_push == "markdown"
        self.wake_later = wake_later

    def chat_of(self, kind: str, recipient: str) -> str:
        """A centre notice names its unit's chat, or notify.CENTRE for the configured centre's group."""
        if kind == OutboxKind.SUPERVISOR_NOTICE and recipient in ("", notify.CENTRE):
            return self.settings.supervisor_chat_id
        return recipient

    def take_slot(self, chat: str, force: bool = False) -> int:
        """A slot in the chat's window (0), or the milliseconds until one frees; a reply forces its slot."""
        try:
            return self.pace.take(chat, force=force)
        except Exception as error:  # Redis away: send unpaced rather than not at all; Tencent's 45009 still guards
            log.warning("pacing unavailable (%s); sending unpaced", error)
            return 0

    async def push_once(self) -> int:
        """One pass over pending rows; returns how many were sent."""
        rows = await asyncio.to_thread(self._pending)
        queues: dict[str, list[tuple[int, bool]]] = {}
        for outbox_id, kind, recipient, held in rows:
            queues.setdefault(self.chat_of(kind, recipient), []).append((outbox_id, held))
        sent = await asyncio.gather(*(self._drain(chat, items) for chat, items in queues.items()))
        return sum(sent)

    def _pending(self) -> list[tuple[int, str, str, bool]]:
        with Session(self.rt.engine) as session:  # a reader: never takes SQLite's write lock
            return outbox.pending(session, GATEWAY_KINDS, utcnow(), self.settings.wecom_bot_id)

    async def _drain(self, chat: str, items: list[tuple[int, bool]]) -> int:
        """Send one chat's rows in order; stop at a held head, a transient failure or the chat's limit."""
        sent = 0
        for outbox_id, held in items:
            if held:
                return sent
            if chat and (wait_ms := await asyncio.to_thread(self.take_slot, chat)):
                self.wake_later(wait_ms / 1000)  # its next slot goes to the first row then, the most urgent
                return sent
            result = await self._deliver(outbox_id, chat)
            if result == "sent":
                sent += 1
            elif result in ("retry", "skipped"):
                return sent
        return sent

    async def _deliver(self, outbox_id: int, chat: str) -> str:
        leased = await asyncio.to_thread(
            delivery.lease,
            self.rt,
            outbox_id,
            GATEWAY_KINDS,
            LEASE_SECONDS,
            lambda s, row: self._render(s, row, chat),
            self.settings.wecom_bot_id,
        )
        if isinstance(leased, str):
            return leased
        try:
            ack = await self.send(chat, leased.body.message)
            if ack.get("errcode", 0) != 0:
                raise RuntimeError(f"ack errcode={ack.get('errcode')}, errmsg={ack.get('errmsg')}")
        except Exception as failure:
            if leased.body.task_id and errcode_of(failure) == TASK_ID_REFUSED:
                # Only an earlier attempt of this row can have used its task_id: that card is in the chat already,
                # its ack was lost (the connection dropped, or the ack came after the SDK stopped waiting).
                return await asyncio.to_thread(delivery.sent, self.rt, leased, "aibot", "already")
            error = str(failure) or type(failure).__name__
            retry = is_retryable(failure)
            return await asyncio.to_thread(delivery.failed, self.rt, leased, error, retry, self.retry_base_seconds)
        return await asyncio.to_thread(delivery.sent, self.rt, leased, "aibot")

    def _render(self, session: Any, row: outbox.Notification, chat: str) -> Body:
        if not chat:
            if row.kind == OutboxKind.SUPERVISOR_NOTICE:
                raise delivery.Unsendable("WECOM_SUPERVISOR_CHAT_ID is not set: no chat for supervisor notices")
            raise delivery.Unsendable("the grid has no WeCom chat_id")
        if row.kind == OutboxKind.GROUP_PUSH and row.event in notify.CARD_EVENTS and not self.markdown_only:
            card = card_of(session, row.ticket_id) if row.ticket_id else None
            if card is None:
                raise delivery.Unsendable(f"ticket {row.ticket_id} not found")
            headline = notices.GROUP_HEADLINES.get(row.event, "")
            assert row.id is not None
            task_id = task_id_for(card.number, row.id, row.created_at)
            photos_url = photolinks.ticket_page(self.settings, card.number) if card.photos else ""
            return Body(card_message(card, task_id, headline, photos_url), task_id)
        text = notices.render(session, row)
        if not text:
            raise delivery.Unsendable(f"nothing to say for ticket {row.ticket_id}")
        payload = json.loads(row.payload or "{}")
        worker, userid = payload.get("worker", ""), payload.get("mention", "")
        return Body(markdown_message(mention(escape_markdown(text), worker, userid)))
