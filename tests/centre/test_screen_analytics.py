"""The command centre screen's trend, categories over time, repeated problems and grid workers' league
(handlers/centre.screen): inside the supervisor's unit only, cancelled tickets left out, and the same numbers as the
chat's 统计."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import time_machine
from sqlmodel import Session, select

from handlers import centre
from storage.db import transaction
from storage.models import Grid, Person, Status, Ticket, TicketSource
from tests.members import GroupMember

CST = timezone(timedelta(hours=8))
# A Wednesday: 本周 from Monday 3 March, 本月 from 1 March, the 14 days from 20 February.
NOW = datetime(2025, 3, 5, 10, 0, tzinfo=CST)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of 2025 in China time."""
    return datetime(2025, month, day, hour, minute, tzinfo=CST)


@pytest.fixture
def grid(rt, demo) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(rt.engine) as s:
        return {g.code: g.id for g in s.exec(select(Grid)).all() if g.id is not None}


@pytest.fixture
def worker(rt, demo) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(rt.engine) as s:
        return {p.wecom_userid: p.id for p in s.exec(select(Person)).all() if p.wecom_userid and p.id is not None}


def add(rt, *tickets: Ticket) -> None:  # type: ignore[no-untyped-def]
    with transaction(rt.engine) as s:
        s.add_all(tickets)


def ticket(grid_id: int, created_at: datetime, category: str = "facility", **facts: Any) -> Ticket:
    facts.setdefault("status", Status.ASSIGNED)
    return Ticket(category=category, text="测试", grid_id=grid_id, created_at=created_at, **facts)


def done(grid_id: int, created_at: datetime, **facts: Any) -> Ticket:
    return ticket(grid_id, created_at, status=Status.CLOSED, first_resolved_at=created_at + timedelta(hours=2), **facts)


def screen(rt, userid: str, period: str = "本月", now: datetime = NOW) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with Session(rt.engine) as s:
        person = s.exec(select(Person).where(Person.wecom_userid == userid)).one()
        return centre.screen(s, person, period, now)


def said(rt, words: str, now: datetime) -> str:  # type: ignore[no-untyped-def]
    """What 朝阳街道's centre reads in its group when it asks at `now`."""
    with time_machine.travel(now, tick=False):
        return GroupMember(rt, "centre-s01", "centre-chat-s01").say(words)


def headline(numbers: dict[str, Any]) -> list[str]:
    """The lines of 统计 that these numbers make."""
    return [
        f"工单 {numbers['total']} 件",
        f"巡查发现 {numbers['patrol']}，群众反映 {numbers['resident']}",
        f"响应率 {numbers['response']['text']}，按期办结率 {numbers['on_time']['text']}，"
        f"办结率 {numbers['closure']['text']}",
        f"满意率 {numbers['satisfaction']['text']}",
        f"重办率 {numbers['reopen']['text']}",
    ]


def test_the_period_before_is_what_统计_said_of_it(rt, grid):
    g01, g04, g07 = grid["G01"], grid["G04"], grid["G07"]
    add(
        rt,
        # February (上月): three of 朝阳街道's, two done in time, one rated 满意, one 不满意.
        done(g01, at(2, 3, 9), resolve_on_time=True, accept_on_time=True, rating=5),
        done(g04, at(2, 14, 15), resolve_on_time=False, accept_on_time=True, rating=1),
        ticket(g01, at(2, 28, 23, 30), accept_on_time=False),
        ticket(g01, at(2, 10, 9), status=Status.CANCELLED),  # counts nowhere
        done(g07, at(2, 11, 9), resolve_on_time=True),  # 和平街道's
        # January (the month before 上月): one.
        done(g01, at(1, 20, 9), resolve_on_time=True),
        # Yesterday (4 March) and today.
        done(g01, at(3, 4, 8), resolve_on_time=True, rating=4),
        ticket(g04, at(3, 4, 23, 50)),
        ticket(g01, at(3, 5, 0, 10)),
    )
    month = screen(rt, "centre-s01", "本月")
    assert month["numbers"]["total"] == 3 and month["previous"]["total"] == 3
    assert month["previous"]["closure"] == {"part": 2, "whole": 3, "value": 2 / 3, "text": "66.7%"}
    # 统计 上月 asked now counts the same tickets the same way.
    last_month = said(rt, "统计 上月", NOW)
    for line in headline(month["previous"]):
        assert line in last_month
    assert set(month["previous"]) == set(month["numbers"])

    # 上月's own trend: January.
    assert screen(rt, "centre-s01", "上月")["previous"]["total"] == 1

    # 今日's: all of yesterday, what 统计 今日 said at its last second.
    today = screen(rt, "centre-s01", "今日")
    assert today["numbers"]["total"] == 1 and today["previous"]["total"] == 2
    yesterday = said(rt, "统计 今日", at(3, 4, 23, 59) + timedelta(seconds=59))
    for line in headline(today["previous"]):
        assert line in yesterday
    assert today["previous"]["satisfaction"]["text"] == "100.0%"


def test_each_ticket_lands_on_its_china_day(rt, grid):
    g01 = grid["G01"]
    add(
        rt,
        ticket(g01, at(3, 4, 23, 30), "noise"),  # 15:30 UTC on the 4th
        ticket(g01, at(3, 5, 0, 30), "noise"),  # 16:30 UTC on the 4th, but the 5th in China
        ticket(g01, at(3, 5, 9, 59), "noise"),
        ticket(g01, at(2, 20, 0, 0), "noise"),  # the first day's first moment
        ticket(g01, at(2, 19, 23, 59), "noise"),  # a day too early
        ticket(g01, at(3, 5, 9), "noise", status=Status.CANCELLED),
    )
    daily = screen(rt, "centre-s01", "今日")["daily"]
    assert len(daily["days"]) == 14 and daily["days"][0] == "02-20" and daily["days"][-2:] == ["03-04", "03-05"]
    (noise,) = daily["series"]
    assert noise["name"] == "噪音扰民"
    assert noise["counts"] == [1] + [0] * 11 + [1, 2]


def test_categories_over_time_show_the_five_biggest_and_the_rest_as_其他(rt, grid):
    g01, g07 = grid["G01"], grid["G07"]
    sizes = {"facility": 7, "sanitation": 6, "noise": 5, "parking": 4, "property": 3, "safety": 2, "dispute": 1}
    rows = [ticket(g01, at(3, 3, 9) + timedelta(minutes=i), code) for code, n in sizes.items() for i in range(n)]
    rows += [ticket(g01, at(3, 4, 9), "other")]  # the taxonomy's own 其他 joins the rest
    rows += [ticket(g07, at(3, 4, 9), "dispute") for _ in range(9)]  # 和平街道's: not 朝阳街道's biggest
    add(rt, *rows)
    series = screen(rt, "centre-s01", "今日")["daily"]["series"]
    names = [s["name"] for s in series]
    assert names == ["市政设施", "环境卫生", "噪音扰民", "停车交通", "物业房屋", "其他"]
    assert [sum(s["counts"]) for s in series] == [7, 6, 5, 4, 3, 4]
    assert series[-1]["counts"][-3:] == [3, 1, 0]  # safety and dispute on the 3rd, other on the 4th


def test_hotspots_are_this_weeks_repeats_inside_the_unit(rt, grid):
    g01, g02, g04, g07 = grid["G01"], grid["G02"], grid["G04"], grid["G07"]
    add(
        rt,
        ticket(g01, at(3, 3, 9), location_text="幸福小区3栋"),
        ticket(g01, at(3, 4, 9), location_text="幸福小区3栋"),
        ticket(g01, at(3, 5, 8), location_text="幸福小区南门"),
        ticket(g01, at(3, 5, 9), status=Status.CANCELLED, location_text="幸福小区南门"),
        ticket(g01, at(3, 2, 23), location_text="幸福小区南门"),  # last week (Sunday)
        ticket(g04, at(3, 3, 10), "noise"),
        ticket(g04, at(3, 4, 22), "noise"),
        ticket(g02, at(3, 4, 9)),  # once: not a repeat
        ticket(g02, at(3, 4, 10), "parking"),
        *(ticket(g07, at(3, 4, 9), location_text="建设新村5栋") for _ in range(4)),  # 和平街道's
    )
    expected = [
        {"grid": "幸福小区第1网格", "place": "幸福小区3栋", "category": "市政设施", "count": 3},
        {"grid": "阳光花园第1网格", "place": "", "category": "噪音扰民", "count": 2},
    ]
    assert screen(rt, "centre-s01", "本月")["hotspots"] == expected
    assert screen(rt, "centre-s01", "今日")["hotspots"] == expected  # always this week, whatever the period
    assert [h["grid"] for h in screen(rt, "centre-s02")["hotspots"]] == ["建设新村网格"]


def test_the_workers_league_counts_each_workers_tickets_and_finds(rt, grid, worker):
    g01, g02, g07 = grid["G01"], grid["G02"], grid["G07"]
    zhang, liu, sun = worker["zhangwei"], worker["liuyang"], worker["sunli"]
    add(
        rt,
        done(g01, at(3, 1, 9), assignee_id=zhang, resolve_on_time=True, rating=5),
        done(g01, at(3, 2, 9), assignee_id=zhang, resolve_on_time=False, rating=2),
        ticket(g01, at(3, 3, 9), assignee_id=zhang, status=Status.ACCEPTED),
        # His own patrol find, resolved at once.
        done(g01, at(3, 4, 9), assignee_id=zhang, source=TicketSource.PATROL, found_by_id=zhang),
        ticket(g01, at(3, 4, 10), assignee_id=zhang, status=Status.CANCELLED),
        done(g01, at(2, 27, 9), assignee_id=zhang),  # last month
        done(g02, at(3, 2, 9), assignee_id=liu, resolve_on_time=True),
        *(done(g07, at(3, 2, 9), assignee_id=sun) for _ in range(5)),  # 和平街道's worker
    )
    workers = screen(rt, "centre-s01", "本月")["workers"]
    assert [w["name"] for w in workers] == ["张伟", "刘洋"]
    zhang_row = workers[0]
    assert zhang_row["grid"] == "幸福小区第1网格"
    assert (zhang_row["handled"], zhang_row["closed"], zhang_row["patrol"]) == (4, 3, 1)
    assert zhang_row["on_time"]["text"] == "50.0%" and zhang_row["satisfaction"]["text"] == "50.0%"
    assert (workers[1]["handled"], workers[1]["closed"], workers[1]["patrol"]) == (1, 1, 0)
    # 巡查统计 counts the same find for him.
    assert "张伟 1" in said(rt, "巡查统计 本月", NOW)

    theirs = screen(rt, "centre-s02", "本月")["workers"]
    assert [(w["name"], w["closed"]) for w in theirs] == [("孙丽", 5)]


def test_another_streets_centre_sees_none_of_it(rt, grid, worker):
    g01 = grid["G01"]
    add(
        rt,
        *(ticket(g01, at(3, 4, 9), assignee_id=worker["zhangwei"], location_text="幸福小区3栋") for _ in range(3)),
        done(g01, at(2, 10, 9), assignee_id=worker["zhangwei"]),
    )
    mine, theirs = screen(rt, "centre-s01"), screen(rt, "centre-s02")
    assert mine["hotspots"] and mine["workers"] and mine["previous"]["total"] == 1
    assert sum(sum(s["counts"]) for s in mine["daily"]["series"]) == 3
    assert theirs["hotspots"] == [] and theirs["workers"] == [] and theirs["previous"]["total"] == 0
    assert theirs["daily"]["series"] == [] and len(theirs["daily"]["days"]) == 14


def test_a_category_the_taxonomy_no_longer_has_is_shown_by_its_code_not_a_failure(rt, grid):
    add(rt, ticket(grid["G01"], at(3, 5, 9), "retired_kiosk"), ticket(grid["G01"], at(3, 5, 9, 30), "retired_kiosk"))
    shown = screen(rt, "centre-s01", "今日")
    assert {"name": "retired_kiosk", "count": 2} in shown["categories"]
    assert shown["hotspots"][0]["category"] == "retired_kiosk"
