"""Grid workers in their WeCom group: one tap or one line per step; only their own grid's tickets."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from storage.models import Outbox, Status, Ticket, TicketEvent
from tests.members import GroupMember


@pytest.fixture
def ticket_id(resident, session) -> int:
    resident.say("3号楼楼道灯坏了 我叫王秀兰")
    return session.exec(select(Ticket)).one().id


@pytest.fixture
def zhang(rt, demo) -> GroupMember:
    """张伟, the worker of G01 (幸福小区3栋 is his)."""
    return GroupMember(rt, "zhangwei")


@pytest.fixture
def liu(rt, demo) -> GroupMember:
    """刘洋, the worker of G02: not his ticket."""
    return GroupMember(rt, "liuyang", "wrk-chat-g02")


def current(session, ticket_id: int) -> Ticket:
    session.expire_all()
    return session.get(Ticket, ticket_id)


def notices(session, kind: str) -> list[tuple[str, dict]]:
    rows = session.exec(select(Outbox).where(Outbox.kind == kind).order_by(Outbox.id)).all()
    return [(r.event, json.loads(r.payload)) for r in rows]


def test_accept_by_tap_tells_the_resident(zhang, ticket_id, session):
    reply = zhang.click(f"accept:{ticket_id}")
    assert "张伟已接单" in reply
    ticket = current(session, ticket_id)
    assert ticket.status == Status.ACCEPTED and ticket.accepted_at is not None
    assert notices(session, "resident_notice") == [("accepted", {"worker": "张伟"})]


def test_worker_of_another_grid_is_refused_and_nothing_changes(liu, ticket_id, session):
    events_before = len(session.exec(select(TicketEvent)).all())
    reply = liu.click(f"accept:{ticket_id}")
    assert "属于幸福小区第1网格" in reply and "不能接单" in reply
    assert current(session, ticket_id).status == Status.ASSIGNED
    assert len(session.exec(select(TicketEvent)).all()) == events_before
    assert notices(session, "resident_notice") == []


def test_someone_not_on_the_roster_is_told_to_register(rt, ticket_id, session, demo):
    reply = GroupMember(rt, "stranger-in-group").say(f"接单 {ticket_id}")
    assert "名册" in reply and current(session, ticket_id).status == Status.ASSIGNED


def test_resident_cannot_run_a_worker_command(resident, ticket_id, session):
    reply = resident.say(f"接单 {ticket_id}")
    assert "不对居民开放" in reply
    assert current(session, ticket_id).status == Status.ASSIGNED


def test_a_repeated_click_delivery_does_nothing_twice(zhang, ticket_id, session):
    first = zhang.click(f"accept:{ticket_id}", msgid="click-1")
    again = zhang.click(f"accept:{ticket_id}", msgid="click-1")
    assert first == again
    accepts = session.exec(select(TicketEvent).where(TicketEvent.action == "accept")).all()
    assert len(accepts) == 1


def test_a_second_tap_is_answered_with_the_reason(zhang, ticket_id):
    zhang.click(f"accept:{ticket_id}")
    assert "处理中" in zhang.click(f"accept:{ticket_id}")


def test_resolve_with_a_note_asks_the_resident_to_rate(zhang, resident, ticket_id, session):
    zhang.say(f"接单 {ticket_id}")
    assert "处理说明" in zhang.say(f"办结 {ticket_id}")  # a note is needed when typed
    assert "已办结" in zhang.say(f"办结 {ticket_id} 已更换灯泡")
    assert ("resolved", {"note": "已更换灯泡"}) in notices(session, "resident_notice")
    assert "感谢" in resident.say(f"评价 {ticket_id} 5")
    assert current(session, ticket_id).status == Status.CLOSED


def test_resolve_by_tap_needs_no_typing(zhang, ticket_id, session):
    zhang.click(f"accept:{ticket_id}")
    zhang.click(f"resolve:{ticket_id}")
    assert current(session, ticket_id).status == Status.RESOLVED


def test_photo_after_resolving_is_kept_as_the_after_photo(zhang, ticket_id, session):
    zhang.click(f"accept:{ticket_id}")
    zhang.say(f"办结 {ticket_id} 已更换灯泡")
    assert f"工单 {ticket_id}" in zhang.photo("after-1")
    assert '"after": true' in current(session, ticket_id).images


def test_progress_reaches_the_resident(zhang, ticket_id, session):
    zhang.say(f"接单 {ticket_id}")
    zhang.say(f"进展 {ticket_id} 已联系物业 明天上午换灯")
    assert ("progress", {"note": "已联系物业 明天上午换灯"}) in notices(session, "resident_notice")


def test_return_needs_a_reason_and_goes_back_to_the_centre(zhang, ticket_id, session):
    assert "退回" in zhang.click(f"return:{ticket_id}")  # a tap asks for the reason
    assert current(session, ticket_id).status == Status.ASSIGNED
    zhang.say(f"退回 {ticket_id} 不是我们小区的")
    assert current(session, ticket_id).status == Status.RETURNED
    assert ("returned", {"reason": "不是我们小区的", "worker": "张伟"}) in notices(session, "supervisor_notice")
    assert ("returned", {}) in notices(session, "resident_notice")


def test_todo_lists_my_grids_open_tickets(zhang, liu, ticket_id):
    assert str(ticket_id) in zhang.say("待办")
    assert "没有待办" in liu.say("待办")


def test_supervisor_in_wecom_may_act_on_any_grid(rt, ticket_id, session):
    duty = GroupMember(rt, "zhihui", "supervisors")
    assert "已接单" in duty.say(f"接单 {ticket_id}")
    assert "今日工单 1 件" in duty.say("统计")


def test_group_notice_text_masks_the_residents_name_and_phone(resident, zhang, session, run_worker, delivered):
    resident.say("3号楼楼道灯坏了 我是王秀兰 电话13912345678")
    run_worker()
    text = delivered()[0]["text"]
    assert "王秀兰" not in text and "13912345678" not in text and "139****5678" in text
