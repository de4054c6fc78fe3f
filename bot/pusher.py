"""The gateway's pushes: group cards and centre notices over the AI bot's connection, in order per chat, paced.

Every POLL_SECONDS, or soon after something is published on the wake channel (bot/gateway.py gathers), a pass
reads the pending rows of the gateway's kinds (urgent tickets' first, storage/outbox.pending) and sends each chat's
in that order through the one delivery pipeline (bot/delivery.py: lease, render, send, mark, retry). A pass costs
one transaction to read and lease whatever may go now, in every chat, and marks rows sent in one UPDATE for the
acks that came in together: under load, its fixed cost is shared by the cards it carries.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot import delivery, photolinks, runtime
from bot.cards import TASK_ID_REFUSED, card_message, markdown_message, task_id_for
from bot.channels import GATEWAY_KINDS
from bot.delivery import Leased
from bot.frames import errcode_of, is_retryable
from bot.markup import escape_markdown, mention
from bot.pacing import Pace
from config import Settings
from handlers import notices, notify
from handlers.cards import Card, cards_of
from storage import outbox
from storage.db import transaction
from storage.models import OutboxKind, utcnow

log = logging.getLogger(__name__)

# A row is leased just before its send and marked sent on Tencent's ack, which the SDK waits at most 5 s for: 15 s
# covers that. A gateway that dies mid-send holds its chats' queues until the lease runs out, about as long as its
# successor waits for the bot lock (15 s).
LEASE_SECONDS = 15
# At most this many of one chat's rows are leased in one pass: they go one after another, each after the ack of the
# one before, well inside the lease.
PER_CHAT_PER_PASS = 10
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
        self._acked: list[tuple[Leased[Body], str]] = []
        self._marking: asyncio.Task[None] | None = None
        self._cards: dict[int, Card] = {}  # the pass's, by ticket number (_read_cards)

    def chat_of(self, kind: str, recipient: str) -> str:
        """A centre notice names its unit's chat, or notify.CENTRE for the configured centre's group."""
        if kind == OutboxKind.SUPERVISOR_NOTICE and recipient in ("", notify.CENTRE):
            return self.settings.supervisor_chat_id
        return recipient

    def take_slot(self, chat: str, force: bool = False) -> int:
        """A slot in the chat's window (0), or the milliseconds until one frees; a reply forces its slot."""
        taken, wait_ms = self.take_slots({chat: 1}, force)[chat]
        return 0 if taken else wait_ms

    async def push_once(self) -> int:
        """One pass: lease what may go now (one transaction), send each chat's rows in order, chats side by side,
        and mark them sent as their acks come in; returns how many were sent."""
        chats, waits = await asyncio.to_thread(self._lease_ready)
        for seconds in waits:
            self.wake_later(seconds)  # the chat's next slot goes to its first row then, the most urgent
        sent = await asyncio.gather(*(self._send_chat(chat, rows) for chat, rows in chats.items()))
        if self._marking is not None:
            await self._marking
        return sum(sent)

    def _lease_ready(self) -> tuple[dict[str, list[Leased[Body]]], list[float]]:
        """The pending rows, and of each chat's those that may go now: in order, up to a held row (in backoff, or
        being sent), the chat's pace or PER_CHAT_PER_PASS; leased and rendered in the same transaction. Returns
        them by chat, and the seconds until a full chat has a slot again."""
        bot = self.settings.wecom_bot_id
        with transaction(self.rt.engine) as session:
            queues: dict[str, list[tuple[int, bool]]] = {}
            for outbox_id, kind, recipient, held in outbox.pending(session, GATEWAY_KINDS, utcnow(), bot):
                queues.setdefault(self.chat_of(kind, recipient), []).append((outbox_id, held))
            asked, waits = self._may_go(queues)
            ids = [i for chat_ids in asked.values() for i in chat_ids]
            leased, refused = delivery.lease_many(
                session, ids, GATEWAY_KINDS, LEASE_SECONDS, self._render, bot, prepare=self._read_cards
            )
        delivery.report(self.rt, refused)
        taken = {row.outbox_id: row for row in leased}
        gone = {row.outbox_id for row in refused}
        chats: dict[str, list[Leased[Body]]] = {}
        left: list[Leased[Body]] = []
        for chat, chat_ids in asked.items():
            for n, outbox_id in enumerate(chat_ids):
                if outbox_id not in taken and outbox_id not in gone:
                    # Taken by someone else meanwhile: nothing behind it may overtake it.
                    left += [taken[i] for i in chat_ids[n:] if i in taken]
                    break
                if outbox_id in taken:
                    chats.setdefault(chat, []).append(taken[outbox_id])
        if left:
            delivery.release(self.rt, left)
        return chats, waits

    def _may_go(self, queues: dict[str, list[tuple[int, bool]]]) -> tuple[dict[str, list[int]], list[float]]:
        """Each chat's rows that may go now, in order up to a held row (in backoff, or being sent) or
        PER_CHAT_PER_PASS, and as many as the chat's pace has slots for (taken for them, every chat in one call); and
        the seconds until a full chat's next slot."""
        heads: dict[str, list[int]] = {}
        for chat, items in queues.items():
            ids = heads[chat] = []
            for outbox_id, held in items[:PER_CHAT_PER_PASS]:
                if held:
                    break
                ids.append(outbox_id)
        wants = {chat: len(ids) for chat, ids in heads.items() if chat and ids}
        slots = self.take_slots(wants)
        asked: dict[str, list[int]] = {}
        waits: list[float] = []
        for chat, ids in heads.items():
            taken, wait_ms = slots.get(chat, (len(ids), 0))
            asked[chat] = ids[:taken]
            if wait_ms:
                waits.append(wait_ms / 1000)
        return asked, waits

    def take_slots(self, wants: dict[str, int], force: bool = False) -> dict[str, tuple[int, int]]:
        """Slots for several chats at once, several each (Pace.take_many): per chat, how many were taken and the
        milliseconds until the next one frees."""
        try:
            return self.pace.take_many(wants, force)
        except Exception as error:  # Redis away: send unpaced rather than not at all; Tencent's 45009 still guards
            log.warning("pacing unavailable (%s); sending unpaced", error)
            return {chat: (n, 0) for chat, n in wants.items()}

    async def _send_chat(self, chat: str, rows: list[Leased[Body]]) -> int:
        """Send one chat's leased rows in order; at a transient failure the rest are given back, to go after it."""
        sent = 0
        for n, leased in enumerate(rows):
            result = await self._send(chat, leased)
            if result == "sent":
                sent += 1
            elif result == "retry":
                if rows[n + 1 :]:
                    await asyncio.to_thread(delivery.release, self.rt, rows[n + 1 :])
                break
        return sent

    async def _send(self, chat: str, leased: Leased[Body]) -> str:
        try:
            ack = await self.send(chat, leased.body.message)
            if ack.get("errcode", 0) != 0:
                raise RuntimeError(f"ack errcode={ack.get('errcode')}, errmsg={ack.get('errmsg')}")
        except Exception as failure:
            if leased.body.task_id and errcode_of(failure) == TASK_ID_REFUSED:
                # Only an earlier attempt of this row can have used its task_id: that card is in the chat already,
                # its ack was lost (the connection dropped, or the ack came after the SDK stopped waiting).
                self._mark(leased, "already")
                return "sent"
            error = str(failure) or type(failure).__name__
            retry = is_retryable(failure)
            result = await asyncio.to_thread(delivery.failed, self.rt, leased, error, retry, self.retry_base_seconds)
            if result == "retry":  # another pass when its backoff is over, not at the next poll
                self.wake_later(delivery.backoff(leased.attempts, self.retry_base_seconds))
            return result
        self._mark(leased, "sent")
        return "sent"

    def _mark(self, leased: Leased[Body], result: str) -> None:
        """Mark the row sent soon: acks that come in while a mark is being written are written together next."""
        self._acked.append((leased, result))
        if self._marking is None:
            self._marking = asyncio.create_task(self._write_marks())

    async def _write_marks(self) -> None:
        try:
            while self._acked:
                done, self._acked = self._acked, []
                try:
                    await asyncio.to_thread(delivery.sent_many, self.rt, done, "aibot")
                except Exception:
                    # The rows stay leased: once the lease runs out a card is refused as a repeat (marked then),
                    # a markdown text goes again.
                    log.exception("could not mark outbox %s sent", [leased.outbox_id for leased, _ in done])
        finally:
            self._marking = None

    def _is_card(self, row: outbox.Notification) -> bool:
        return row.kind == OutboxKind.GROUP_PUSH and row.event in notify.CARD_EVENTS and not self.markdown_only

    def _read_cards(self, session: Any, rows: Sequence[outbox.Notification]) -> None:
        """The cards of the rows leased in this pass, read in one statement before they are rendered."""
        self._cards = cards_of(session, [row.ticket_id for row in rows if row.ticket_id and self._is_card(row)])

    def _render(self, session: Any, row: outbox.Notification) -> Body:
        chat = self.chat_of(row.kind, row.recipient)
        if not chat:
            if row.kind == OutboxKind.SUPERVISOR_NOTICE:
                raise delivery.Unsendable("WECOM_SUPERVISOR_CHAT_ID is not set: no chat for supervisor notices")
            raise delivery.Unsendable("the grid has no WeCom chat_id")
        if self._is_card(row):
            card = self._cards.get(row.ticket_id) if row.ticket_id else None
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
