"""The numbers of docs/metrics.md, on the worked example's history built by hand: the doc and the code agree."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from storage import metrics
from storage.db import transaction
from storage.metrics import Rate
from storage.models import Grid, Status, Ticket

CST = timezone(timedelta(hours=8))


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of March 2025 in China time (3 March is a Monday)."""
    return datetime(2025, 3, day, hour, minute, second, tzinfo=CST)


# 本周 as the 统计 command sees it on Friday 7 March 2025 at 10:00 (handlers.clock.period).
NOW = at(7, 10)
SINCE, UNTIL = at(3, 0), NOW + timedelta(seconds=1)


def ticket(grid_id: int | None, created_at: datetime, status: Status, **facts: object) -> Ticket:
    return Ticket(category="other", text="测试", grid_id=grid_id, created_at=created_at, status=status, **facts)


@pytest.fixture
def grids(rt) -> dict[str, int]:
    with transaction(rt.engine) as s:
        made = [Grid(code="G01", name="第1网格"), Grid(code="G02", name="第2网格")]
        s.add_all(made)
        s.flush()
        return {g.code: g.id for g in made}


@pytest.fixture
def history(rt, grids) -> dict[str, int]:
    """The worked example of docs/metrics.md, ticket for ticket."""
    g1, g2 = grids["G01"], grids["G02"]
    rows = [
        # 1: accepted and resolved in time, rated 满意.
        ticket(g1, at(3, 9), Status.CLOSED, first_accepted_at=at(3, 9, 20), accept_on_time=True,
               first_resolved_at=at(3, 15), resolve_on_time=True, rating=5),
        # 2: accepted 20 minutes after its accept deadline, resolved in time, rated 基本满意.
        ticket(g1, at(3, 10), Status.CLOSED, first_accepted_at=at(3, 10, 50), accept_on_time=False,
               first_resolved_at=at(4, 10), resolve_on_time=True, rating=3),
        # 3: rated 不满意, reopened and accepted again: being handled, so not 办结.
        ticket(g1, at(4, 9), Status.ACCEPTED, first_accepted_at=at(4, 9, 10), accept_on_time=True,
               first_resolved_at=at(5, 9), resolve_on_time=True, rating=1, reopen_count=1,
               resolve_due_at=at(12, 10)),
        # 4: resolved after its deadline, not rated yet.
        ticket(g2, at(4, 14), Status.RESOLVED, first_accepted_at=at(4, 14, 30), accept_on_time=True,
               first_resolved_at=at(6, 14), resolve_on_time=False, resolve_due_at=at(6, 9)),
        # 5: nobody accepted it; both deadlines have passed.
        ticket(g2, at(5, 8), Status.ASSIGNED, accept_on_time=False, resolve_on_time=False,
               accept_due_at=at(5, 8, 30), resolve_due_at=at(6, 8)),
        # 6: created ten minutes ago; its accept deadline has not come yet.
        ticket(g1, at(7, 9, 50), Status.ASSIGNED, accept_due_at=at(7, 10, 20), resolve_due_at=at(14, 9, 50)),
        # 7: suspended (挂起) waiting for the resident before its deadline: the clock is stopped, not late.
        ticket(g2, at(5, 11), Status.SUSPENDED, first_accepted_at=at(5, 11, 25), accept_on_time=True,
               resolve_due_at=at(6, 11), paused_at=at(5, 15)),
        # 8: quick, rated 4.
        ticket(g2, at(6, 9), Status.CLOSED, first_accepted_at=at(6, 9, 15), accept_on_time=True,
               first_resolved_at=at(6, 13), resolve_on_time=True, rating=4),
        # 9: cancelled by the resident after the accept deadline passed: counts nowhere.
        ticket(g1, at(3, 11), Status.CANCELLED, accept_on_time=False, resolve_due_at=at(4, 11)),
        # 10: created one second before the period: last week's.
        ticket(g1, at(2, 23, 59, 59), Status.CLOSED, first_accepted_at=at(3, 8, 40), accept_on_time=True,
               first_resolved_at=at(3, 10), resolve_on_time=True, rating=5),
    ]  # fmt: skip
    with transaction(rt.engine) as s:
        s.add_all(rows)
    return grids


def test_the_worked_example_gives_the_numbers_in_the_doc(history, session):
    m = metrics.compute(session, SINCE, UNTIL, NOW)

    assert (m.total, m.open, m.overdue) == (8, 4, 1)
    assert m.by_status == {"closed": 3, "accepted": 1, "resolved": 1, "assigned": 2, "suspended": 1}
    assert m.response == Rate(5, 7)
    assert str(m.response) == "71.4%"
    assert m.on_time == Rate(4, 6)
    assert str(m.on_time) == "66.7%"
    assert m.closure == Rate(4, 8)
    assert str(m.closure) == "50.0%"
    assert m.satisfaction == Rate(3, 4)
    assert str(m.satisfaction) == "75.0%"
    assert m.reopen == Rate(1, 5)
    assert str(m.reopen) == "20.0%"
    assert m.avg_rating == pytest.approx(3.25)
    assert m.mean_accept_minutes == pytest.approx(25.0, abs=0.01)
    assert m.mean_resolve_hours == pytest.approx(21.2, abs=0.001)


def test_one_grid_counts_only_its_own_tickets(history, session):
    g1 = metrics.compute(session, SINCE, UNTIL, NOW, history["G01"])
    assert (g1.total, g1.open, g1.overdue) == (4, 2, 0)
    assert (g1.response, g1.on_time, g1.closure) == (Rate(2, 3), Rate(3, 3), Rate(2, 4))
    assert (g1.satisfaction, g1.reopen) == (Rate(2, 3), Rate(1, 3))
    assert str(g1.on_time) == "100.0%"
    assert g1.mean_accept_minutes == pytest.approx(80 / 3, abs=0.01)
    assert g1.mean_resolve_hours == pytest.approx(18.0, abs=0.001)

    g2 = metrics.compute(session, SINCE, UNTIL, NOW, history["G02"])
    assert (g2.total, g2.open, g2.overdue) == (4, 2, 1)
    assert (g2.response, g2.on_time, g2.closure) == (Rate(3, 4), Rate(1, 3), Rate(2, 4))
    assert (g2.satisfaction, g2.reopen) == (Rate(1, 1), Rate(0, 2))
    assert str(g2.reopen) == "0.0%"
    assert g2.mean_accept_minutes == pytest.approx(70 / 3, abs=0.01)
    assert g2.mean_resolve_hours == pytest.approx(26.0, abs=0.001)


def test_the_period_is_created_in_since_until(history, session):
    assert metrics.compute(session, SINCE - timedelta(seconds=1), UNTIL, NOW).total == 9
    # Ticket 8 was created at exactly 6 March 09:00: a period ending then leaves it out, one starting then takes it.
    assert metrics.compute(session, SINCE, at(6, 9), NOW).total == 6
    assert metrics.compute(session, at(6, 9), UNTIL, NOW).total == 2  # tickets 8 and 6


def test_the_ticket_one_second_before_since_is_last_periods(grids, rt, session):
    with transaction(rt.engine) as s:
        s.add(ticket(grids["G01"], SINCE - timedelta(seconds=1), Status.NEW))
        s.add(ticket(grids["G01"], SINCE, Status.NEW))
    assert metrics.compute(session, SINCE, UNTIL, NOW).total == 1
    assert metrics.compute(session, SINCE - timedelta(days=7), SINCE, NOW).total == 1


def test_cancelled_tickets_count_nowhere(grids, rt, session):
    with transaction(rt.engine) as s:
        s.add(ticket(grids["G01"], at(3, 9), Status.CANCELLED, accept_on_time=False, resolve_due_at=at(3, 12)))
    m = metrics.compute(session, SINCE, UNTIL, NOW)
    assert (m.total, m.open, m.overdue, m.by_status) == (0, 0, 0, {})
    assert m.response == Rate(0, 0)


def test_nothing_to_count_shows_dashes_not_zero(rt, session):
    m = metrics.compute(session, SINCE, UNTIL, NOW)
    assert (m.total, m.open, m.overdue, m.by_status) == (0, 0, 0, {})
    for rate in (m.response, m.on_time, m.closure, m.satisfaction, m.reopen):
        assert rate.value is None
        assert str(rate) == "—"
    assert (m.avg_rating, m.mean_accept_minutes, m.mean_resolve_hours) == (None, None, None)


def test_undecided_tickets_do_not_drag_the_rate_down(grids, rt, session):
    with transaction(rt.engine) as s:
        s.add(ticket(grids["G01"], at(7, 9, 55), Status.ASSIGNED, accept_due_at=at(7, 10, 25)))
    m = metrics.compute(session, SINCE, UNTIL, NOW)
    assert (m.total, m.response, m.on_time) == (1, Rate(0, 0), Rate(0, 0))
    assert m.closure == Rate(0, 1)


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        (Rate(12, 13), "92.3%"),
        (Rate(1, 3), "33.3%"),
        (Rate(2, 3), "66.7%"),
        (Rate(5, 5), "100.0%"),
        (Rate(0, 4), "0.0%"),
    ],
)
def test_a_rate_is_shown_with_one_decimal(rate, shown):
    assert str(rate) == shown
