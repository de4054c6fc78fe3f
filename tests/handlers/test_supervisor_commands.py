"""The command centre asks by chat; residents are told those commands are not theirs."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from handlers import moves
from storage.db import transaction
from storage.models import Ticket, utcnow


def move(rt, ticket_id: int, *actions: str) -> None:
    with transaction(rt.engine) as s:
        ticket = s.get(Ticket, ticket_id)
        for action in actions:
            moves.do(s, ticket, action, None, utcnow())


def test_resident_asking_for_statistics_is_told_it_is_not_for_them(resident, session):
    reply = resident.say("统计")
    assert "不对居民开放" in reply and "帮助" in reply
    assert session.exec(select(Ticket)).first() is None


def test_statistics_count_today_by_state_with_closure_rate_and_rating(resident, wechat_user, supervisor, rt, session):
    for text in ("3号楼楼道灯坏了", "3号楼门口垃圾没人清运", "3号楼楼上装修太吵", "3号楼电梯坏了"):
        resident.say(text)
    ids = [t.id for t in session.exec(select(Ticket).order_by(Ticket.id)).all()]
    move(rt, ids[1], "accept")
    move(rt, ids[2], "accept", "resolve")
    move(rt, ids[3], "accept", "resolve")
    resident.say(f"评价 {ids[3]} 5")
    wechat_user("o-someone-new").say("路灯坏了")  # no address known: waits for one, status new

    reply = supervisor.say("统计")
    assert "今日工单 5 件" in reply
    assert "待派单 1，已派单 1，处理中 1，已办结 2，超时 0" in reply
    assert "办结率 40.0%" in reply and "平均5.0分" in reply


def test_statistics_for_a_period_and_grid_glued_without_space(resident, supervisor):
    resident.say("3号楼楼道灯坏了")
    assert "幸福小区第1网格 本周工单 1 件" in supervisor.say("统计本周 G01")
    assert "本月工单 0 件" in supervisor.say("统计 本月 G02").replace("幸福小区第2网格 ", "")


def test_overdue_lists_late_tickets_with_how_late(resident, supervisor, rt, session):
    resident.say("3号楼楼道灯坏了")
    ticket = session.exec(select(Ticket)).one()
    with transaction(rt.engine) as s:
        late = s.get(Ticket, ticket.id)
        late.resolve_due_at = utcnow() - timedelta(hours=5)
    reply = supervisor.say("超时")
    assert f"{ticket.id} 幸福小区第1网格" in reply and "超时5小时" in reply
    assert "超时 1" in supervisor.say("统计")


def test_grid_summary_and_ticket_inspection_show_why_it_was_routed(resident, supervisor, session):
    resident.say("3号楼楼道灯坏了 电话13912345678")
    ticket = session.exec(select(Ticket)).one()
    grid = supervisor.say("网格 G01")
    assert "张伟" in grid and "138****1001" in grid and "在办工单 1 件" in grid
    detail = supervisor.say(f"查 {ticket.id}")
    assert "分类依据：楼道灯" in detail and "幸福小区第1网格" in detail
    assert "139****5678" in detail and "13912345678" not in detail


def test_supervisor_free_text_is_not_a_complaint(supervisor, session):
    assert "帮助" in supervisor.say("今天怎么样")
    assert session.exec(select(Ticket)).first() is None


def test_unknown_grid_code_says_what_exists(supervisor):
    reply = supervisor.say("网格 G99")
    assert "没有编号为 G99 的网格" in reply
