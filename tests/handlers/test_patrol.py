"""巡查上报: a grid worker writes what they found on patrol, and it is a ticket of their own grid, already theirs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import time_machine
from sqlmodel import select

from handlers import lifecycle
from handlers.clock import CST, period
from storage import metrics
from storage.db import transaction
from storage.models import Grid, Outbox, Person, Role, Status, Ticket, TicketEvent, TicketSource, utcnow
from storage.scope import Within
from tests.members import GroupMember

RUBBISH = "3栋门口垃圾堆放未清运"


@pytest.fixture
def zhang(rt, demo) -> GroupMember:
    """张伟, the worker of G01."""
    return GroupMember(rt, "zhangwei")


@pytest.fixture
def liu(rt, demo) -> GroupMember:
    """刘洋, the worker of G02."""
    return GroupMember(rt, "liuyang", "wrk-chat-g02")


def patrol_tickets(session) -> list[Ticket]:
    session.expire_all()
    return list(session.exec(select(Ticket).where(Ticket.source == TicketSource.PATROL).order_by(Ticket.id)).all())


def outbox(session) -> list[tuple[str, str]]:
    return [(r.kind, r.event) for r in session.exec(select(Outbox).order_by(Outbox.id)).all()]


def actions(session, ticket_id: int) -> list[tuple[str, str]]:
    rows = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id))
    return [(e.action, e.note) for e in rows]


def person(session, userid: str) -> Person:
    return session.exec(select(Person).where(Person.wecom_userid == userid)).one()


def test_a_find_is_a_ticket_of_the_workers_grid_accepted_by_them(zhang, session):
    reply = zhang.say(f"巡查 {RUBBISH}")
    [ticket] = patrol_tickets(session)
    n = ticket.id
    assert reply.startswith(f"已登记巡查工单 {n}（环境卫生·垃圾堆），已由您接单，")
    assert f"处理完回复“办结 {n} 处理说明”" in reply
    worker = person(session, "zhangwei")
    assert session.get(Grid, ticket.grid_id).code == "G01"
    assert (ticket.status, ticket.assignee_id, ticket.found_by_id) == (Status.ACCEPTED, worker.id, worker.id)
    assert ticket.resident_id is None and ticket.text == RUBBISH and ticket.category == "sanitation"
    assert ticket.resolve_due_at is not None  # the clock runs as for a complaint
    assert ticket.accept_on_time is None  # nobody waited for it to be accepted: not in 响应率
    assert outbox(session) == []  # no resident to tell, no card for a ticket its finder already holds


@pytest.mark.parametrize(
    ("typed", "note"),
    [
        (f"巡查 {RUBBISH} 已处理", "现场已处理"),
        ("巡查 3栋楼道飞线充电，已整改。", "现场已整改"),
        ("巡查 南门路灯不亮 已解决", "现场已解决"),
        ("巡查 5号楼楼道杂物堆放现场处理", "现场处理"),
    ],
)
def test_fixed_on_the_spot_is_resolved_and_closed_at_once(zhang, session, typed, note):
    reply = zhang.say(typed)
    [ticket] = patrol_tickets(session)
    assert f"已登记巡查工单 {ticket.id}" in reply and f"{note}，已办结归档" in reply
    assert ticket.status == Status.CLOSED and ticket.resolve_on_time is True
    assert not ticket.text.endswith(note[-3:])  # the find is stored without the "fixed" words
    assert [a for a, _ in actions(session, ticket.id)] == ["open", "patrol", "resolve", "close"]
    assert ("resolve", note) in actions(session, ticket.id)
    assert outbox(session) == []


def test_a_find_that_could_not_be_fixed_there_stays_open(zhang, session):
    zhang.say("巡查 3栋外墙瓷砖脱落，无法现场处理")
    [ticket] = patrol_tickets(session)
    assert ticket.status == Status.ACCEPTED and ticket.text.endswith("无法现场处理")


def test_resolved_later_it_closes_and_no_rating_is_awaited(zhang, rt, session):
    zhang.say(f"巡查 {RUBBISH}")
    [ticket] = patrol_tickets(session)
    reply = zhang.say(f"办结 {ticket.id} 已联系保洁清运")
    assert reply == f"巡查工单 {ticket.id} 已办结归档。可以再发一张处理后的照片。"
    [ticket] = patrol_tickets(session)
    assert ticket.status == Status.CLOSED and ticket.closed_at is not None
    with transaction(rt.engine) as s:  # a week later the sweep has nothing to remind anyone of, nor to close
        assert lifecycle.sweep(s, utcnow() + timedelta(days=8)) == 0
    assert outbox(session) == []


def test_a_photo_right_after_is_kept_with_the_find(zhang, session):
    zhang.say(f"巡查 {RUBBISH}")
    [ticket] = patrol_tickets(session)
    assert zhang.photo("scene-1") == f"已将照片存入巡查工单 {ticket.id}（现场）。"
    zhang.say(f"办结 {ticket.id} 已清运")
    assert zhang.photo("after-1") == f"已将照片存入巡查工单 {ticket.id}（处理后）。"
    [ticket] = patrol_tickets(session)
    images = json.loads(ticket.images)
    assert [(i["media_id"], i["after"]) for i in images] == [("scene-1", False), ("after-1", True)]


def test_a_photo_after_a_find_fixed_on_the_spot_is_its_after_photo(zhang, session):
    zhang.say(f"巡查 {RUBBISH} 已处理")
    [ticket] = patrol_tickets(session)
    assert zhang.photo("after-1") == f"已将照片存入巡查工单 {ticket.id}（处理后）。"


def test_the_same_find_the_same_day_names_the_first_ticket(zhang, liu, session):
    with time_machine.travel(datetime(2026, 12, 3, 8, 0, tzinfo=CST), tick=False) as traveller:
        zhang.say(f"巡查 {RUBBISH}")
        [first] = patrol_tickets(session)
        traveller.move_to(datetime(2026, 12, 3, 23, 50, tzinfo=CST))
        again = zhang.say(f"巡查 {RUBBISH}")
        assert again == f"今天已登记过这条巡查：工单 {first.id}（处理中）。处理完回复“办结 {first.id} 处理说明”。"
        assert f"工单 {first.id}" in zhang.say(f"巡查 {RUBBISH} 已处理")  # not a second ticket either
        assert len(patrol_tickets(session)) == 1
        liu.say(f"巡查 {RUBBISH}")  # another worker's find is theirs
        traveller.move_to(datetime(2026, 12, 4, 0, 10, tzinfo=CST))
        zhang.say(f"巡查 {RUBBISH}")  # a new day, a new find
    assert [(t.found_by_id, t.status) for t in patrol_tickets(session)] == [
        (person(session, "zhangwei").id, Status.ACCEPTED),
        (person(session, "liuyang").id, Status.ACCEPTED),
        (person(session, "zhangwei").id, Status.ACCEPTED),
    ]


def test_the_same_find_once_resolved_says_so(zhang, session):
    zhang.say(f"巡查 {RUBBISH} 已处理")
    [ticket] = patrol_tickets(session)
    assert zhang.say(f"巡查 {RUBBISH}").startswith(f"今天已登记过这条巡查：工单 {ticket.id}，已办结。")


def test_a_residents_like_complaint_is_not_linked_to_a_find(zhang, resident, session):
    zhang.say("巡查 3号楼楼道灯坏了")
    reply = resident.say("3号楼楼道灯坏了好几天了")
    assert "已受理，工单号" in reply and "关联" not in reply
    session.expire_all()
    mine = session.exec(select(Ticket).where(Ticket.source == TicketSource.RESIDENT)).one()
    assert mine.status == Status.ASSIGNED and mine.reporter_count == 1
    assert ("group_push", "assigned") in outbox(session)  # the group gets the resident's card as always


def test_a_residents_complaint_that_begins_with_the_word_is_still_a_complaint(resident, session):
    reply = resident.say("巡查员怎么不来巡查，3号楼楼道灯坏了好几天了")
    assert "已受理，工单号" in reply
    session.expire_all()
    ticket = session.exec(select(Ticket)).one()
    assert ticket.source == TicketSource.RESIDENT and ticket.resident_id is not None


def test_a_resident_or_the_centre_typing_it_is_refused(rt, resident, session, demo):
    assert resident.say(f"巡查 {RUBBISH}") == "“巡查”不对居民开放。回复“帮助”查看您可以使用的命令。"
    duty = GroupMember(rt, "zhihui", "supervisors")
    assert duty.say(f"巡查 {RUBBISH}").startswith("“巡查”不对指挥中心开放")
    assert session.exec(select(Ticket)).all() == []


def test_a_worker_without_a_grid_is_told_whom_to_ask(rt, session, demo):
    with transaction(rt.engine) as s:
        s.add(Person(role=Role.GRID_WORKER, wecom_userid="newcomer", name="新网格员"))
    reply = GroupMember(rt, "newcomer").say(f"巡查 {RUBBISH}")
    assert reply == "您还没有分配网格，不能登记巡查工单。请联系社区指挥中心。"
    assert session.exec(select(Ticket)).all() == []


def test_nothing_written_after_the_word_asks_for_the_find(zhang, session):
    for typed in ("巡查", "巡查 已处理"):
        assert zhang.say(typed).startswith("请写上巡查发现的问题，如：巡查 3栋门口垃圾堆放未清运。")
    assert patrol_tickets(session) == []


def test_help_lists_it_for_workers(zhang, resident):
    assert "巡查 <发现的问题>" in zhang.say("帮助")
    assert "巡查" not in resident.say("帮助")


def test_the_numbers_count_finds_apart_from_residents_reports(zhang, liu, resident, rt, session):
    resident.say("3号楼楼道灯坏了好几天了")
    [reported] = session.exec(select(Ticket)).all()
    zhang.say(f"接单 {reported.id}")
    zhang.say(f"巡查 {RUBBISH}")
    zhang.say("巡查 南门路灯不亮 已处理")
    liu.say("巡查 6栋门口共享单车乱停")
    now = utcnow()
    since, until, _ = period("今日", now)
    numbers = metrics.compute(session, since, until, now)
    assert (numbers.total, numbers.resident, numbers.patrol) == (4, 1, 3)
    assert numbers.response.whole == 1  # only the resident's ticket waited to be accepted
    g02 = session.exec(select(Grid).where(Grid.code == "G02")).one()
    assert metrics.compute(session, since, until, now, grid_id=g02.id).patrol == 1

    assert metrics.patrol_by_worker(session, since, until) == [("张伟", 2), ("刘洋", 1)]
    with transaction(rt.engine) as s:  # G02 is the only grid of one community
        s.get(Grid, g02.id).org_path = "/D01/S01/C02/"
    assert metrics.patrol_by_worker(session, since, until, Within("/D01/S01/C02/")) == [("刘洋", 1)]
    assert metrics.patrol_by_worker(session, until, until + timedelta(days=1)) == []


def test_an_urgent_find_runs_on_the_urgent_clock_and_says_to_call_for_help(zhang, session):
    reply = zhang.say("巡查 3栋楼道着火了")
    [ticket] = patrol_tickets(session)
    assert reply.startswith("【紧急】如有危险请立即拨打119") and f"已登记巡查工单 {ticket.id}（安全隐患·着火）" in reply
    assert ticket.urgent and ticket.resolve_due_at - ticket.created_at == timedelta(hours=2)


def test_the_centre_ranks_its_workers_by_their_finds(zhang, liu, rt):
    zhang.say(f"巡查 {RUBBISH}")
    zhang.say("巡查 南门路灯不亮 已处理")
    liu.say("巡查 6栋门口共享单车乱停")
    chaoyang = GroupMember(rt, "centre-s01", "centre-chat-s01")  # 幸福小区's street
    assert chaoyang.say("巡查统计") == "朝阳街道 本月巡查发现 3 件：\n1. 张伟 2件\n2. 刘洋 1件"
    heping = GroupMember(rt, "centre-s02", "centre-chat-s02")  # another street: none of these are its
    assert heping.say("巡查统计 本月").startswith("和平街道 本月还没有巡查发现的问题")
    assert "不对网格员开放" in zhang.say("巡查统计")
