"""A ticket's life after intake, with time moved (time-machine), never slept: clocks, reminders, escalation,
extensions, suspension, rating, reopen, duplicates and the numbers supervisors read.

Everything goes in through the real callbacks (signed WeChat XML, the gateway's message path for WeCom) and is
checked where people would see it: replies, the recorded group pushes and notices, the ticket row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import time_machine
from sqlmodel import select

from bot import jobs
from handlers.cards import card_for
from handlers.clock import CST
from storage.models import Outbox, Status, Ticket, TicketEvent, TicketReporter
from tests.members import GroupMember

LAMP = "3号楼楼道灯坏了"


class Clock:
    """The wall clock for the test: move it, then run what the cron would run at that moment."""

    def __init__(self, start: datetime) -> None:
        self.traveller = time_machine.travel(start, tick=False)
        self.traveller.start()

    def to(self, when: datetime) -> None:
        self.traveller.stop()
        self.traveller = time_machine.travel(when, tick=False)
        self.traveller.start()

    def stop(self) -> None:
        self.traveller.stop()


def cst(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


@pytest.fixture
def clock() -> Iterator[Clock]:
    c = Clock(cst(11, 20, 17, 50))  # a Friday
    yield c
    c.stop()


@pytest.fixture
def sweep(run_worker, delivered) -> Callable[[], list[dict]]:  # type: ignore[no-untyped-def]
    """Run the ticket sweep and deliver what it queued; returns the deliveries it added (the 日报 only if asked)."""

    def run(daily: bool = False) -> list[dict]:
        before = len(delivered())
        jobs.sweep_tickets()
        run_worker()
        return [r for r in delivered()[before:] if daily or r["event"] != "daily"]

    return run


@pytest.fixture
def zhang(rt, demo) -> GroupMember:
    return GroupMember(rt, "zhangwei")


@pytest.fixture
def centre(rt, demo) -> GroupMember:
    """The command centre on WeCom (wecom:zhihui in demo/people.csv)."""
    return GroupMember(rt, "zhihui", "sup-chat")


@pytest.fixture
def accepted(clock, resident, zhang, session) -> Callable[[], Ticket]:  # type: ignore[no-untyped-def]
    """Monday 09:00: the resident reports the dark stairwell lamp and 张伟 accepts it."""

    def make() -> Ticket:
        clock.to(cst(11, 23, 9, 0))
        resident.say(LAMP)
        t = ticket(session)
        zhang.say(f"接单 {t.id}")
        return t

    return make


def ticket(session, ticket_id: int | None = None) -> Ticket:
    session.expire_all()
    if ticket_id is None:
        return session.exec(select(Ticket).order_by(Ticket.id.desc())).first()
    return session.get(Ticket, ticket_id)


def events(rows: list[dict], event: str) -> list[dict]:
    return [r for r in rows if r["event"] == event]


def test_friday_evening_ticket_is_reminded_once_and_escalated_once_on_monday(
    clock, resident, zhang, session, sweep, run_worker
) -> None:
    reply = resident.say(LAMP)
    run_worker()
    t = ticket(session)
    assert "11月23日" in reply  # due on Monday's working day, said in the reply
    assert t.accept_due_at.astimezone(CST) == cst(11, 23, 8, 50)  # 10 min on Friday + 20 on Monday

    for moment in (cst(11, 20, 18, 30), cst(11, 21, 9, 0), cst(11, 22, 20, 0), cst(11, 23, 8, 34)):
        clock.to(moment)
        assert sweep() == [], f"nothing is due at {moment}"

    clock.to(cst(11, 23, 8, 36))
    first = sweep()
    assert [r["event"] for r in first] == ["remind"]
    assert first[0]["recipient"] == "wrk-chat-g01"
    assert "@张伟" in first[0]["text"] and f"接单 {t.id}" in first[0]["text"]
    assert first[0]["mention_userid"] == "zhangwei"
    clock.to(cst(11, 23, 8, 45))
    assert sweep() == []

    clock.to(cst(11, 23, 8, 51))
    second = sweep()
    assert sorted(r["event"] for r in second) == ["escalated", "escalated"]
    assert {r["kind"] for r in second} == {"supervisor_notice", "group_push"}
    clock.to(cst(11, 23, 10, 0))
    assert sweep() == []
    assert ticket(session, t.id).accept_on_time is False


def test_urgent_ticket_counts_calendar_time_on_a_saturday_night(clock, resident, session, sweep, run_worker) -> None:
    clock.to(cst(11, 21, 3, 0))
    resident.say("3号楼楼道里着火了有烟")
    run_worker()
    t = ticket(session)
    assert t.urgent and not t.working_clock
    assert t.accept_due_at.astimezone(CST) == cst(11, 21, 3, 10)
    assert t.resolve_due_at.astimezone(CST) == cst(11, 21, 5, 0)
    clock.to(cst(11, 21, 3, 11))
    assert [r["event"] for r in sweep() if r["kind"] == "supervisor_notice"] == ["escalated"]


def test_a_late_sweep_sends_only_the_latest_reminder_of_each_clock(clock, resident, session, sweep, run_worker) -> None:
    clock.to(cst(11, 23, 9, 0))
    resident.say(LAMP)
    run_worker()
    clock.to(cst(11, 26, 9, 0))  # the cron was down for three days: every stage is past (3 times 9.5 working hours)
    rows = sweep()
    assert sorted(r["event"] for r in rows if r["kind"] == "group_push") == ["badly_late", "escalated"]
    assert sorted(r["event"] for r in rows if r["kind"] == "supervisor_notice") == ["badly_late", "escalated"]
    t = ticket(session)
    assert set(t.alerts.split(",")) == {"remind", "escalate", "warn", "overdue", "very_late", "badly_late"}
    assert t.resolve_on_time is False
    assert sweep() == []


def test_warning_overdue_and_supervise_record_come_in_order(clock, resident, zhang, session, sweep, run_worker) -> None:
    clock.to(cst(11, 23, 9, 0))
    resident.say(LAMP)  # 楼道灯: 24 h = one working day
    t = ticket(session)
    zhang.say(f"接单 {t.id}")
    run_worker()
    assert ticket(session, t.id).resolve_due_at.astimezone(CST) == cst(11, 24, 9, 0)
    clock.to(cst(11, 23, 16, 35))  # 80 % of 9.5 working hours from Monday 09:00 is Monday 16:36
    assert sweep() == []
    clock.to(cst(11, 23, 16, 37))
    assert [r["event"] for r in sweep()] == ["warn"]
    clock.to(cst(11, 24, 8, 59))
    assert sweep() == []
    clock.to(cst(11, 24, 9, 1))
    rows = sweep()
    assert sorted(r["event"] for r in rows) == ["overdue", "overdue"]
    supervise = session.exec(select(TicketEvent).where(TicketEvent.action == "supervise")).all()
    assert len(supervise) == 1
    overdue_list = GroupMember(zhang.rt, "zhihui").say("超时")
    assert f"{t.id}" in overdue_list and "🔴" in overdue_list


def test_extension_approved_moves_the_deadline_and_a_second_request_is_refused(
    accepted, clock, resident, zhang, centre, session, run_worker
) -> None:
    t = accepted()
    before = ticket(session, t.id).resolve_due_at

    assert "等待指挥中心审批" in zhang.say(f"延期 {t.id} 2 等待配件到货")
    assert ticket(session, t.id).resolve_due_at == before
    assert "等待指挥中心审批" in zhang.say(f"延期 {t.id} 1 还要等")  # one pending request at a time
    reply = centre.say(f"同意延期 {t.id}")
    after = ticket(session, t.id)
    assert after.resolve_due_at.astimezone(CST) == cst(11, 26, 9, 0)  # two working days later
    assert "11月26日 09:00" in reply
    assert after.extensions == 1

    refused = zhang.say(f"延期 {t.id} 1 还是没到")
    assert "不能再申请" in refused
    assert ticket(session, t.id).resolve_due_at == after.resolve_due_at
    run_worker()
    notices = session.exec(select(Outbox).where(Outbox.event == "extended")).all()
    assert {n.kind for n in notices} == {"group_push", "resident_notice"}


def test_extension_refused_leaves_the_deadline(accepted, clock, resident, zhang, centre, session) -> None:
    t = accepted()
    before = ticket(session, t.id).resolve_due_at
    zhang.say(f"延期 {t.id} 3 人手不够")
    assert "已驳回" in centre.say(f"驳回延期 {t.id} 今天必须修好")
    after = ticket(session, t.id)
    assert after.resolve_due_at == before and after.extensions == 0 and after.extension_request == ""
    assert "没有待审批" in centre.say(f"同意延期 {t.id}")


def test_a_worker_cannot_approve_extensions(clock, resident, zhang, session) -> None:
    resident.say(LAMP)
    t = ticket(session)
    zhang.say(f"接单 {t.id}")
    zhang.say(f"延期 {t.id} 2 等配件")
    assert "不对网格员开放" in zhang.say(f"同意延期 {t.id}")
    assert ticket(session, t.id).extensions == 0


def test_suspension_stops_the_clock_and_the_residents_answer_resumes_it(
    clock, resident, zhang, session, run_worker
) -> None:
    clock.to(cst(11, 23, 9, 0))
    resident.say("3号楼楼道灯坏了")
    t = ticket(session)
    zhang.say(f"接单 {t.id}")
    due = ticket(session, t.id).resolve_due_at
    assert "暂停计时" in zhang.say(f"挂起 {t.id} 请告诉我是几单元")
    run_worker()
    asked = session.exec(select(Outbox).where(Outbox.event == "suspended")).one()
    assert asked.recipient == "o-demo-resident-1"

    clock.to(cst(11, 23, 11, 0))  # two working hours later the resident answers
    reply = resident.say("是2单元")
    assert "继续处理" in reply
    after = ticket(session, t.id)
    assert after.status == Status.ACCEPTED and after.paused_at is None
    assert (after.resolve_due_at - due).total_seconds() == 2 * 3600
    assert session.exec(select(Outbox).where(Outbox.event == "supplemented")).one().recipient == "wrk-chat-g01"


def test_dissatisfied_reopens_tells_the_supervisor_and_counts_as_reopen(
    accepted, clock, resident, zhang, centre, session, run_worker
) -> None:
    t = accepted()
    clock.to(cst(11, 23, 10, 0))
    zhang.say(f"办结 {t.id} 已换灯泡")
    clock.to(cst(11, 23, 12, 0))
    assert "重新交给网格员" in resident.say("不满意")  # no number needed with one ticket waiting
    after = ticket(session, t.id)
    assert after.status == Status.REOPENED and after.reopen_count == 1 and after.grid_id is not None
    told = session.exec(select(Outbox).where(Outbox.event == "reopened")).all()
    assert {r.kind for r in told} == {"supervisor_notice", "group_push"}
    stats = centre.say("统计 本周 G01")
    assert "重办率 100.0%" in stats


def test_rating_reminder_once_after_three_days_and_auto_close_at_seven(
    accepted, clock, resident, zhang, session, sweep, run_worker
) -> None:
    t = accepted()
    zhang.say(f"办结 {t.id} 已换灯泡")
    run_worker()
    clock.to(cst(11, 26, 8, 0))
    assert sweep() == []
    clock.to(cst(11, 26, 9, 1))
    rows = sweep()
    assert [(r["kind"], r["event"]) for r in rows] == [("resident_notice", "rate_remind")]
    clock.to(cst(11, 28, 9, 0))
    assert sweep() == []
    clock.to(cst(11, 30, 9, 1))
    sweep()
    closed = ticket(session, t.id)
    assert closed.status == Status.CLOSED and closed.rating is None
    assert "已结案，不能再评价" in resident.say(f"评价 {t.id} 满意")


def test_three_residents_reporting_one_lamp_make_one_ticket_and_all_hear_it_is_fixed(
    clock, resident, wechat_user, zhang, centre, session, run_worker
) -> None:
    clock.to(cst(11, 23, 9, 0))
    resident.say("3号楼楼道灯坏了")
    clock.to(cst(11, 23, 9, 20))
    second = wechat_user("o-neighbour-a").say("幸福小区三号楼的楼道灯不亮了好几天了")
    clock.to(cst(11, 23, 9, 50))
    third = wechat_user("o-neighbour-b").say("幸福小区3栋楼道里灯坏了晚上黑乎乎的")
    assert session.exec(select(Ticket)).all().__len__() == 1
    t = ticket(session)
    assert f"已有居民反映此问题（工单 {t.id}）" in second and "已为您关联" in third
    assert t.reporter_count == 3
    assert "3位居民反映" in centre.say(f"查 {t.id}")
    assert ("反映", "3位居民反映") in card_for(session, t).fields

    zhang.say(f"接单 {t.id}")
    zhang.say(f"办结 {t.id} 已更换灯泡")
    run_worker()
    told = session.exec(select(Outbox).where(Outbox.event == "resolved")).all()
    assert sorted(r.recipient for r in told) == ["o-demo-resident-1", "o-neighbour-a", "o-neighbour-b"]
    assert "工单" in wechat_user("o-neighbour-a").say(f"进度 {t.id}")


def test_a_different_building_is_not_linked(clock, resident, wechat_user, session) -> None:
    resident.say("幸福小区3号楼楼道灯坏了")
    wechat_user("o-neighbour-c").say("幸福小区1号楼楼道灯坏了")
    assert len(session.exec(select(Ticket)).all()) == 2


def test_a_wrong_link_is_split_into_its_own_ticket(clock, resident, wechat_user, centre, session, run_worker) -> None:
    resident.say("3号楼楼道灯坏了")
    wechat_user("o-neighbour-d").say("幸福小区3号楼楼道灯不亮")
    t = ticket(session)
    assert t.reporter_count == 2
    listing = centre.say(f"拆分 {t.id}")
    assert "1. " in listing
    reply = centre.say(f"拆分 {t.id} 1")
    assert "单独立案" in reply
    assert len(session.exec(select(Ticket)).all()) == 2
    assert ticket(session, t.id).reporter_count == 1
    assert session.exec(select(TicketReporter)).all() == []
    run_worker()
    assert session.exec(select(Outbox).where(Outbox.event == "split")).one().recipient == "o-neighbour-d"


def test_supervisor_dispatches_transfers_and_supervises(clock, stranger, centre, rt, session, run_worker) -> None:
    stranger.say("路边井盖丢了很危险")  # no place: the bot asks where
    stranger.say("不知道")  # asked once: it goes to the centre's queue
    t = ticket(session)
    assert t.status == Status.NEW and t.grid_id is None
    assert "已派给" in centre.say(f"派 {t.id} G02")
    assert ticket(session, t.id).status == Status.ASSIGNED
    liu = GroupMember(rt, "liuyang", "wrk-chat-g02")
    liu.say(f"接单 {t.id}")
    assert "已转派给" in centre.say(f"转派 {t.id} G03")
    moved = ticket(session, t.id)
    assert moved.status == Status.ASSIGNED and moved.grid_id != 2 and moved.assignee_id is not None
    refused = liu.say(f"接单 {t.id}")
    assert "您不能接单" in refused, refused
    assert "已督办" in centre.say(f"督办 {t.id} 今天下班前处理")
    run_worker()
    pushes = session.exec(select(Outbox).where(Outbox.kind == "group_push")).all()
    assert ("transferred", "wrk-chat-g02") in {(p.event, p.recipient) for p in pushes}
    assert "supervised" in {p.event for p in pushes}


def test_callbacks_list_the_dissatisfied_and_record_the_call(clock, resident, zhang, centre, session) -> None:
    resident.say(LAMP)
    t = ticket(session)
    zhang.say(f"接单 {t.id}")
    zhang.say(f"办结 {t.id} 已换灯泡")
    resident.say(f"评价 {t.id} 1 还是不亮")
    listing = centre.say("回访")
    assert f"{t.id}" in listing and "评价1分" in listing
    assert "已记录" in centre.say(f"回访 {t.id} 已电话联系，明天复查")
    assert "没有需要回访" in centre.say("回访")


def test_daily_report_reaches_the_centre_once_at_six_on_a_working_day(clock, resident, session, sweep) -> None:
    clock.to(cst(11, 23, 9, 0))
    resident.say(LAMP)
    clock.to(cst(11, 23, 17, 59))
    assert events(sweep(daily=True), "daily") == []
    clock.to(cst(11, 23, 18, 1))
    report = [r for r in events(sweep(daily=True), "daily") if r["recipient"] == "supervisors"]
    assert len(report) == 1 and report[0]["kind"] == "supervisor_notice"
    assert "【日报】" in report[0]["text"] and "工单 1 件" in report[0]["text"]
    clock.to(cst(11, 23, 19, 0))
    assert events(sweep(daily=True), "daily") == []
    clock.to(cst(11, 28, 18, 30))  # a Saturday: no report
    assert events(sweep(daily=True), "daily") == []


def test_lists_show_the_colour_of_each_ticket(clock, resident, zhang, session) -> None:
    clock.to(cst(11, 23, 9, 0))
    resident.say(LAMP)
    zhang.say(f"接单 {ticket(session).id}")
    assert "🟢" in zhang.say("待办")
    clock.to(cst(11, 23, 16, 40))
    assert "🟡" in zhang.say("待办")
    clock.to(cst(11, 24, 10, 0))
    assert "🔴" in zhang.say("待办")


def test_a_late_ticket_climbs_the_tree_one_centre_at_each_multiple_of_its_limit(
    clock, resident, zhang, session, sweep, run_worker
) -> None:
    """The demo's tree (demo/org.csv): 幸福社区 and 朝阳街道 have groups of their own, 城东区 has none (the configured
    centre's group, "supervisors", is the district's)."""
    clock.to(cst(11, 23, 9, 0))
    resident.say(LAMP)  # 楼道灯: one working day, due Tuesday 09:00
    t = ticket(session)
    zhang.say(f"接单 {t.id}")
    run_worker()

    def centres() -> list[tuple[str, str]]:
        return [(r["event"], r["recipient"]) for r in sweep() if r["kind"] == "supervisor_notice"]

    clock.to(cst(11, 24, 9, 1))
    assert centres() == [("overdue", "centre-chat-c01")]  # the limit: the community's centre
    clock.to(cst(11, 25, 8, 59))
    assert centres() == []
    clock.to(cst(11, 25, 9, 1))
    rows = sweep()
    assert [(r["event"], r["recipient"]) for r in rows if r["kind"] == "supervisor_notice"] == [
        ("very_late", "centre-chat-s01")  # twice the limit: the street's
    ]
    assert "【超时升级】" in next(r["text"] for r in rows if r["kind"] == "group_push")
    clock.to(cst(11, 26, 9, 1))
    assert centres() == [("badly_late", "supervisors")]  # three times: the district's, the configured group
    clock.to(cst(11, 27, 9, 1))
    assert centres() == []  # each centre once
    notes = [e.note for e in session.exec(select(TicketEvent).where(TicketEvent.action == "supervise")).all()]
    assert notes == ["系统督办：已超时", "系统督办：超时2倍，报街道", "系统督办：严重超时，报区"]


def test_each_centre_with_a_group_gets_its_own_daily_report(clock, resident, wechat_user, sweep, session) -> None:
    clock.to(cst(11, 23, 9, 0))
    resident.say(LAMP)  # 幸福小区: 幸福社区, 朝阳街道
    wechat_user("o-demo-resident-2").say("建设新村2栋楼道灯坏了")  # 建设社区, 和平街道
    clock.to(cst(11, 23, 18, 1))
    reports = {r["recipient"]: r["text"] for r in events(sweep(daily=True), "daily")}
    assert set(reports) == {"supervisors", "centre-chat-s01", "centre-chat-c01"}
    assert "11月23日 工单 2 件" in reports["supervisors"]  # the configured centre: everything
    assert "幸福社区 11月23日 工单 1 件" in reports["centre-chat-c01"]
    assert "朝阳街道 11月23日 工单 1 件" in reports["centre-chat-s01"]
    # 和平街道 runs its own bot (demo/org.csv): its report waits for that bot's gateway, not for the rq workers.
    (s02,) = session.exec(select(Outbox).where(Outbox.recipient == "centre-chat-s02", Outbox.event == "daily")).all()
    assert (s02.event, s02.bot, s02.status) == ("daily", "sim-bot-s02", "pending")
    assert "和平街道 11月23日 工单 1 件" in json.loads(s02.payload)["text"]
    assert events(sweep(daily=True), "daily") == []
