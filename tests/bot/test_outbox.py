"""Notifications are rows first: losing Redis or running a job twice neither loses nor doubles a delivery."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlmodel import select

from bot import jobs
from storage.models import Outbox


@pytest.fixture
def settings(settings):
    # Rows count as stale at once, so the sweep need not wait half a minute.
    return replace(settings, outbox_grace_seconds=0)


def test_flushing_redis_right_after_intake_loses_nothing_once_the_sweep_runs(resident, rt, run_worker, delivered):
    resident.say("3号楼楼道灯坏了")
    rt.redis.flushdb()
    run_worker()
    assert delivered() == []

    assert jobs.sweep_outbox() == 1
    run_worker()

    assert [d["recipient"] for d in delivered()] == ["wrk-chat-g01"]
    assert jobs.sweep_outbox() == 0  # delivered rows are never offered again


def test_the_same_row_enqueued_twice_is_delivered_once(resident, rt, session, run_worker, delivered):
    resident.say("3号楼楼道灯坏了")
    row = session.exec(select(Outbox)).one()
    rt.queue.enqueue(jobs.deliver, row.id)
    rt.queue.enqueue(jobs.deliver, row.id)
    run_worker()
    assert len(delivered()) == 1
    session.expire_all()
    assert session.get(Outbox, row.id).status == "sent"


def test_intake_still_answers_when_redis_is_down(make_app, oa, demo, session):
    # Nothing listens on port 1: the queue is unreachable, the database is not.
    down = make_app(redis_url="redis://127.0.0.1:1/0")
    query, body = oa.signed(oa.text("o-demo-resident-1", "3号楼楼道灯坏了"))
    reply = oa.open_reply(down.test_client().post(f"/wechat?{query}", data=body).get_data(as_text=True))
    assert "工单号" in reply["Content"]
    assert session.exec(select(Outbox)).one().status == "pending"  # the sweep delivers it once Redis is back
