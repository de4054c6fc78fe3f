"""上报 / 流转 / 协办: a grid hands up what it cannot solve, the centre gives it to a department (吹哨报到), the
department works it in its own group with the grid workers' commands, and the resident hears every hop in plain
words while their clock keeps running."""

from __future__ import annotations

import pytest
from sqlmodel import select

from handlers import admin, notices
from storage.db import transaction
from storage.models import Outbox, Status, Ticket, TicketEvent
from tests.members import GroupMember

# The demo's departments (demo/departments.csv): 区城管执法局 CG01 (李执法, cg-li) and 区住建局 serve the district,
# 幸福物业 WY01 (赵经理, wy-zhao) serves 幸福社区; here also one that serves 阳光社区 only.
ELSEWHERE = """code,name,org,categories,chat_id
WY02,阳光物业,C02,property,dept-chat-wy02
"""
PARKING = "3号楼门口有辆车占着消防通道好几天了"


@pytest.fixture
def city(rt, demo):  # type: ignore[no-untyped-def]
    with transaction(rt.engine) as s:
        assert not admin.import_departments(s, ELSEWHERE.encode()).errors


@pytest.fixture
def centre(rt, city) -> GroupMember:  # type: ignore[no-untyped-def]
    return GroupMember(rt, "centre-s01", "centre-chat-s01")


@pytest.fixture
def zhang(rt, city) -> GroupMember:  # type: ignore[no-untyped-def]
    return GroupMember(rt, "zhangwei")


@pytest.fixture
def li(rt, city) -> GroupMember:  # type: ignore[no-untyped-def]
    return GroupMember(rt, "cg-li", "dept-chat-cg01")


@pytest.fixture
def parked(resident, zhang, session, city) -> Ticket:  # type: ignore[no-untyped-def]
    """王秀兰's complaint about a car in the fire lane, accepted by 张伟 (G01)."""
    assert "已受理" in resident.say(PARKING)
    ticket = session.exec(select(Ticket)).one()
    assert "已接单" in zhang.say(f"接单 {ticket.id}")
    return ticket


def fresh(session, ticket_id: int) -> Ticket:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(Ticket, ticket_id)


def outbox(session, event: str) -> list[Outbox]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.exec(select(Outbox).where(Outbox.event == event).order_by(Outbox.id)).all())


def said(session, event: str) -> dict[tuple[str, str], str]:  # type: ignore[no-untyped-def]
    """The queued notices of an event: (kind, recipient) → the text it will carry."""
    return {(row.kind, row.recipient): notices.render(session, row) for row in outbox(session, event)}


def test_a_worker_hands_up_what_the_grid_cannot_solve_and_keeps_it_until_the_centre_acts(parked, zhang, session):
    assert "请写上上报原因" in zhang.say(f"上报 {parked.id}")
    reply = zhang.say(f"上报 {parked.id} 需要执法拖车，网格无权处理")
    assert f"工单 {parked.id} 已上报指挥中心" in reply and "仍由本网格跟进" in reply
    ticket = fresh(session, parked.id)
    assert ticket.status == Status.ACCEPTED and ticket.reported_up_at is not None
    (notice,) = outbox(session, "reported_up")
    assert notice.kind == "supervisor_notice" and "需要执法拖车" in notice.payload
    assert "办结" in zhang.say(f"办结 {parked.id} 车主已挪车")  # still theirs to finish


def test_the_centre_routes_it_to_a_department_and_the_resident_hears_who_has_it(
    parked, resident, zhang, centre, li, session
):
    zhang.say(f"上报 {parked.id} 需要执法拖车")
    due = fresh(session, parked.id).resolve_due_at
    assert "不负责" in centre.say(f"流转 {parked.id} WY02")  # 阳光物业 serves 阳光社区, not 幸福社区
    reply = centre.say(f"流转 {parked.id} CG01 请今天拖离")
    assert reply.startswith(f"工单 {parked.id} 已流转给区城管执法局（李执法）")
    ticket = fresh(session, parked.id)
    assert (ticket.status, ticket.department_id is not None, ticket.reported_up_at) == (Status.ASSIGNED, True, None)
    assert ticket.resolve_due_at == due  # the resident's clock is not reset by a hop
    assert ("group_push", "dept-chat-cg01") in said(session, "assigned")  # the card goes to the department's group
    routed = said(session, "routed")
    assert "已流转给区城管执法局办理" in routed["group_push", "wrk-chat-g01"]  # the grid hears it left
    assert "已转交区城管执法局处理" in routed["resident_notice", "o-demo-resident-1"]

    # The department works it with the grid workers' commands, in its own group.
    assert f" {parked.id} " in li.say("待办")
    assert "李执法已接单" in li.say(f"接单 {parked.id}")
    # The resident hears the department's name, not a staff member's, and 进度 says who has it now.
    assert said(session, "accepted")["resident_notice", "o-demo-resident-1"].startswith(
        f"您反映的问题（工单 {parked.id}）已由区城管执法局接单"
    )
    assert "区城管执法局负责" in resident.say(f"进度 {parked.id}")
    assert "已办结" in li.say(f"办结 {parked.id} 已拖离，车主已处罚")
    assert fresh(session, parked.id).status == Status.RESOLVED


def test_the_street_centre_lists_what_its_grids_handed_up_until_it_acts(parked, zhang, centre, rt, session):
    other_street = GroupMember(rt, "centre-s02", "centre-chat-s02")
    assert "目前没有网格员上报" in centre.say("上报件")
    zhang.say(f"上报 {parked.id} 需要执法拖车")
    listed = centre.say("上报件")
    assert listed.startswith("上报待处理 1 件：") and f"\n{parked.id} 幸福小区第1网格 " in listed
    assert "流转 工单号 部门编号" in listed  # what to do next
    assert "目前没有网格员上报" in other_street.say("上报件")  # 和平街道 does not see 朝阳街道's
    centre.say(f"流转 {parked.id} CG01 请今天拖离")
    assert "目前没有网格员上报" in centre.say("上报列表")  # acted on: off the list


def test_once_a_department_has_it_the_grid_may_only_add_progress(parked, zhang, centre, session):
    centre.say(f"流转 {parked.id} CG01")
    refused = zhang.say(f"办结 {parked.id} 已处理")
    assert "已流转给区城管执法局办理，您不能办结" in refused
    assert fresh(session, parked.id).status == Status.ASSIGNED
    assert "已记录" in zhang.say(f"进展 {parked.id} 车还在，已拍照")


def test_another_department_cannot_touch_it_and_the_department_can_hand_it_back(parked, centre, li, rt, session):
    centre.say(f"流转 {parked.id} CG01")
    other = GroupMember(rt, "wy-zhao", "dept-chat-wy01")
    assert "您不能接单" in other.say(f"接单 {parked.id}")
    assert f" {parked.id} " not in other.say("待办")
    assert "已退回" in li.say(f"退回 {parked.id} 不是违停，是小区内部车位纠纷")
    ticket = fresh(session, parked.id)
    assert ticket.status == Status.RETURNED and ticket.department_id is None
    assert "您不能" in li.say(f"进展 {parked.id} 再看看")  # no longer theirs
    assert [row.kind for row in outbox(session, "returned")] == ["supervisor_notice", "resident_notice"]


def test_a_co_handler_is_told_and_may_post_progress_but_not_finish(parked, centre, rt, session):
    liuyang = GroupMember(rt, "liuyang", "wrk-chat-g02")
    assert "您不能" in liuyang.say(f"进展 {parked.id} 看到了")  # not G02's ticket yet
    assert "已请幸福小区第2网格协办" in centre.say(f"协办 {parked.id} G02 帮忙找车主")
    assert "已在协办" in centre.say(f"协办 {parked.id} G02")
    assert "协办：幸福小区第2网格" in centre.say(f"查 {parked.id}")
    ((kind, chat), text), *others = said(session, "assist").items()
    assert (kind, chat, others) == ("group_push", "wrk-chat-g02", []) and "帮忙找车主" in text
    assert "已记录" in liuyang.say(f"进展 {parked.id} 已联系上车主")
    assert "您不能办结" in liuyang.say(f"办结 {parked.id} 车已挪走")
    actions = [e.action for e in session.exec(select(TicketEvent).where(TicketEvent.ticket_id == parked.id))]
    assert actions.count("assist") == 1 and "progress" in actions


def test_the_centre_lists_the_departments_it_may_route_to(rt, city):
    listing = GroupMember(rt, "centre-c01", "centre-chat-c01").say("部门")  # 幸福社区's centre
    assert "CG01 区城管执法局：停车交通、" in listing and "WY01 幸福物业" in listing
    assert "WY02" not in listing  # 阳光物业 serves another community
