"""A command centre sees and acts on its own unit's subtree only; outside it a command changes nothing and says why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from handlers import admin
from storage.db import transaction
from storage.models import Ticket, TicketEvent, utcnow

# The demo's tree (demo/org.csv): 城东区 D01 → 朝阳街道 S01 (幸福社区 C01: 幸福小区; 阳光社区 C02: 阳光花园) and
# 和平街道 S02 (建设社区 C03: 建设新村). Its centres: wecom:centre-s01, wecom:centre-s02, wecom:centre-c01.
CENTRES = """role,id,name,grid,phone,address,org
supervisor,o-centre-d01,城东区指挥中心,,,,D01
supervisor,o-centre-s01,朝阳街道指挥中心,,,,S01
supervisor,o-centre-c03,建设社区指挥中心,,,,C03
"""


@pytest.fixture
def city(rt, demo):  # type: ignore[no-untyped-def]
    """The demo's tree, with centres the tests can reach over the Official Account."""
    with transaction(rt.engine) as s:
        assert not admin.import_people(s, CENTRES.encode()).errors


@pytest.fixture
def street(wechat_user, city):  # type: ignore[no-untyped-def]
    return wechat_user("o-centre-s01")


@pytest.fixture
def district(wechat_user, city):  # type: ignore[no-untyped-def]
    return wechat_user("o-centre-d01")


@pytest.fixture
def community(wechat_user, city):  # type: ignore[no-untyped-def]
    return wechat_user("o-centre-c03")


def numbers(session) -> list[int]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return [t.id for t in session.exec(select(Ticket).order_by(Ticket.id)).all()]


@pytest.fixture
def two_tickets(wechat_user, session, city) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """One ticket in 朝阳街道 (G01), one in 和平街道 (G07)."""
    assert "已派给 幸福小区第1网格" in wechat_user("o-demo-resident-1").say("3号楼楼道灯坏了")
    assert "已派给 建设新村网格" in wechat_user("o-demo-resident-2").say("建设新村2栋楼道灯坏了")
    first, second = numbers(session)
    return first, second


def test_a_street_centre_reads_its_own_ticket_and_is_refused_another_streets(street, two_tickets):
    mine, theirs = two_tickets
    assert "幸福小区第1网格" in street.say(f"查 {mine}")
    reply = street.say(f"查 {theirs}")
    assert reply.startswith(f"工单 {theirs} 属于和平街道建设社区建设新村网格，不在您的管辖范围（朝阳街道）")
    assert "楼道灯" not in reply  # nothing of the ticket itself


def test_a_command_outside_the_unit_changes_nothing(street, two_tickets, session):
    mine, theirs = two_tickets
    before = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == theirs)).all()
    home = session.get(Ticket, mine).grid_id
    assert "不在您的管辖范围" in street.say(f"督办 {theirs} 抓紧")
    assert "不在您的管辖范围" in street.say(f"改类 {theirs} 停车交通")
    assert "不在您的管辖范围" in street.say(f"接单 {theirs}")
    # Nor may it send its own ticket into another street's grid.
    assert "网格 G07 属于和平街道建设社区" in street.say(f"转派 {mine} G07")
    session.expire_all()
    assert len(session.exec(select(TicketEvent).where(TicketEvent.ticket_id == theirs)).all()) == len(before)
    assert session.get(Ticket, mine).grid_id == home
    assert "幸福小区第1网格" in street.say(f"查 {mine}")


def test_a_street_centre_moves_a_ticket_between_its_own_grids(street, two_tickets, session):
    mine, _ = two_tickets
    assert "已转派给幸福小区第2网格" in street.say(f"转派 {mine} G02")


def test_statistics_count_the_units_own_tickets_and_rank_the_units_under_it(street, district, community, two_tickets):
    assert "朝阳街道 今日工单 1 件" in street.say("统计")
    assert "建设社区 今日工单 1 件" in community.say("统计")
    reply = district.say("统计")
    assert "城东区 今日工单 2 件" in reply
    assert "各街道排名（办结率｜按期办结率｜满意率）" in reply
    assert "朝阳街道 0.0%" in reply and "和平街道 0.0%" in reply and "（1件）" in reply
    assert "各社区排名" in street.say("统计 本月") and "幸福社区" in street.say("统计 本月")
    assert "排名" not in community.say("统计")  # a community has grids, not units, under it
    assert "不在您的管辖范围" in street.say("统计 G07")


def test_overdue_and_grid_lists_stay_inside_the_unit(street, community, two_tickets, rt):
    with transaction(rt.engine) as s:
        for ticket in s.exec(select(Ticket)).all():
            ticket.resolve_due_at = utcnow() - timedelta(hours=5)
    _, theirs = two_tickets
    late = community.say("超时")
    assert "超时工单 1 件" in late and f"{theirs} 建设新村网格" in late and "幸福小区" not in late
    grids = street.say("网格")
    assert "G01、G02、G03、G04、G05、G06、G09、G10" in grids and "G07" not in grids
    assert "不在您的管辖范围" in community.say("网格 G01")
    assert "不在您的管辖范围" in community.say("待办 G01")


def test_a_ticket_no_grid_has_yet_is_the_top_centres_to_dispatch(street, district, stranger, session):
    stranger.say("路灯坏了")  # no place named, no bound address: it waits in the queue
    (number,) = numbers(session)
    assert "不在您的管辖范围" in street.say(f"派 {number} G01")
    assert "已派给幸福小区第1网格" in district.say(f"派 {number} G01")
    assert "幸福小区第1网格" in street.say(f"查 {number}")  # now it is the street's


def test_a_centre_without_a_unit_still_sees_everything(supervisor, two_tickets):
    mine, theirs = two_tickets
    assert "幸福小区第1网格" in supervisor.say(f"查 {mine}") and "建设新村网格" in supervisor.say(f"查 {theirs}")
    assert "今日工单 2 件" in supervisor.say("统计")
