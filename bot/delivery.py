"""One delivery pipeline for every outbox row, whoever sends it: an rq worker through a Channel (bot/jobs.py), or the
AI-bot gateway over its connection (bot/pusher.py).

    lease (one conditional UPDATE … RETURNING, for one row or several) → render → send → sent() or failed()

Every transport shares the lease, the marks, the counting and the one backoff; the one table of retryable errcodes
is bot/channels.RETRYABLE_ERRCODES. Only the send differs. A row is leased just before its send, so a sender that
dies mid-send holds it until the lease runs out, and the sweep (or the gateway's next pass) offers it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from bot import ops, runtime
from storage import outbox
from storage.db import transaction
from storage.models import utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

# A transient failure waits 5 s, 10 s, 20 s … up to 5 minutes before the row is offered again.
BACKOFF_FIRST_SECONDS = 5.0
BACKOFF_MOST_SECONDS = 300.0


def backoff(attempts: int, first: float = BACKOFF_FIRST_SECONDS, most: float = BACKOFF_MOST_SECONDS) -> float:
    """Seconds before the next try of a row that has failed `attempts` times."""
    return min(most, first * 2 ** max(0, attempts - 1))


class Unsendable(Exception):
    """The row can never go out as it is (no chat, no ticket, nothing to say): it fails for good."""


@dataclass(frozen=True)
class Leased(Generic[T]):
    """A row taken for one attempt, with what the transport rendered from it."""

    outbox_id: int
    kind: str
    event: str
    recipient: str
    ticket_id: int | None
    attempts: int
    payload: dict[str, Any] = field(repr=False)
    created_at: datetime
    body: T
    until: datetime | None = None  # the lease's end, as written (release() gives back only that lease)


@dataclass(frozen=True)
class Refused:
    """A row that can never go out as it is: marked failed where it was leased, reported once committed."""

    outbox_id: int
    kind: str
    reason: str


def lease(
    rt: runtime.Runtime,
    outbox_id: int,
    kinds: Iterable[str],
    seconds: float,
    render: Callable[[Any, outbox.Notification], T],
    bot: str = "",
) -> Leased[T] | str:
    """Take the row for one attempt and render it, in one short transaction; "skipped" when it is not pending, not
    of these kinds, another bot's (storage/outbox.served_by: `bot` is the sender's, "" for the rq workers) or held
    by another sender, "failed" when it can never be sent (marked so).

    The lease is storage/outbox.lease: one conditional UPDATE … RETURNING.
    """
    with transaction(rt.engine) as session:
        leased, refused = lease_many(session, [outbox_id], kinds, seconds, render, bot)
    report(rt, refused)
    return leased[0] if leased else "failed" if refused else "skipped"


def lease_many(
    session: Any,
    outbox_ids: Sequence[int],
    kinds: Iterable[str],
    seconds: float,
    render: Callable[[Any, outbox.Notification], T],
    bot: str = "",
    prepare: Callable[[Any, Sequence[outbox.Notification]], None] | None = None,
) -> tuple[list[Leased[T]], list[Refused]]:
    """lease() for several rows at once, in the caller's transaction: those taken and rendered, in the order asked,
    and those that can never be sent (marked failed; report() them once the transaction has committed).
    `prepare(session, rows)` is called once with every row taken, before the first render (to read together what
    they show)."""
    leased: list[Leased[T]] = []
    refused: list[Refused] = []
    rows = outbox.lease_many(session, outbox_ids, list(kinds), utcnow(), seconds, bot)
    if prepare is not None and rows:
        prepare(session, rows)
    for row in rows:
        assert row.id is not None
        try:
            body = render(session, row)
        except Unsendable as reason:
            outbox.mark_failed(session, row.id, str(reason))
            refused.append(Refused(row.id, row.kind, str(reason)))
            continue
        payload = json.loads(row.payload or "{}")
        leased.append(
            Leased(
                row.id,
                row.kind,
                row.event,
                row.recipient,
                row.ticket_id,
                row.attempts,
                payload,
                row.created_at,
                body,
                row.locked_until,
            )
        )
    return leased, refused


def report(rt: runtime.Runtime, refused: Iterable[Refused]) -> None:
    for row in refused:
        log.error("outbox %s not sendable: %s", row.outbox_id, row.reason, extra={"outbox_id": row.outbox_id})
        ops.count_delivery(rt.redis, row.kind, "failed")


def release(rt: runtime.Runtime, leased: Sequence[Leased[Any]]) -> None:
    """Give back rows leased and not sent (the row before them in their chat failed): offered again at once."""
    by_lease: dict[datetime | None, list[int]] = {}
    for row in leased:
        by_lease.setdefault(row.until, []).append(row.outbox_id)
    with transaction(rt.engine) as session:
        for until, ids in by_lease.items():
            if until is not None:
                outbox.release(session, ids, until)


def sent(rt: runtime.Runtime, leased: Leased[Any], via: str, result: str = "sent") -> str:
    """Mark the row sent (one UPDATE); result "already": the platform refused a repeat of what had arrived."""
    sent_many(rt, [(leased, result)], via)
    return "sent"


def sent_many(rt: runtime.Runtime, done: Sequence[tuple[Leased[Any], str]], via: str) -> None:
    """Mark rows sent, all in one UPDATE (a gateway's acks that came in together), and count and log each."""
    with transaction(rt.engine) as session:
        outbox.mark_sent(session, [leased.outbox_id for leased, _ in done], utcnow(), via)
    counts: dict[tuple[str, str], int] = {}
    for leased, result in done:
        counts[(leased.kind, result)] = counts.get((leased.kind, result), 0) + 1
        log.info(
            "delivery sent" if result == "sent" else "delivery had arrived (its ack was lost); not repeated",
            extra={**_about(leased), "result": result, "via": via},
        )
    for (kind, result), n in counts.items():
        ops.count_delivery(rt.redis, kind, result, n)


def failed(
    rt: runtime.Runtime, leased: Leased[Any], error: str, retry: bool, first: float = BACKOFF_FIRST_SECONDS
) -> str:
    """A failed attempt: "retry" (the row waits out the backoff, then anyone may take it) or "failed" for good."""
    with transaction(rt.engine) as session:
        if retry:
            until = utcnow() + timedelta(seconds=backoff(leased.attempts, first))
            outbox.retry_after(session, leased.outbox_id, error, until)
        else:
            outbox.mark_failed(session, leased.outbox_id, error)
    result = "retry" if retry else "failed"
    ops.count_delivery(rt.redis, leased.kind, result)
    log.warning("delivery %s: %s", result, error, extra={**_about(leased), "result": result})
    return result


def _about(leased: Leased[Any]) -> dict[str, Any]:
    return {
        "outbox_id": leased.outbox_id,
        "ticket_id": leased.ticket_id,
        "kind": leased.kind,
        "attempt": leased.attempts,
    }
