"""The supervisor's ticket queries (统计, 超时, 网格) are answered from indexes, never by reading the whole ticket
table: at a city's million tickets a full scan turns an answer in milliseconds into one in seconds (bench scale)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from storage import metrics, tickets
from storage.models import OPEN_STATUSES

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="reads SQLite's query plans; PostgreSQL's depend on table statistics (bench scale shows them at 1M rows)",
)

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
GRID = 1


@contextmanager
def plans_of(session: Session) -> Iterator[list[list[str]]]:
    """EXPLAIN QUERY PLAN of every statement sent inside, one list of steps per statement."""
    sent: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", listen)
    plans: list[list[str]] = []
    try:
        yield plans
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    for statement, parameters in sent:
        rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        plans.append([str(row[-1]) for row in rows])


QUERIES: dict[str, Callable[[Session], object]] = {
    "统计 (every grid)": lambda s: metrics.compute(s, NOW - timedelta(days=30), NOW, NOW),
    "统计 <网格>": lambda s: metrics.compute(s, NOW - timedelta(days=30), NOW, NOW, GRID),
    "超时": lambda s: tickets.overdue(s, NOW),
    "网格 <编号>": lambda s: tickets.open_in_grid(s, GRID),
}


@pytest.mark.parametrize("query", QUERIES)
def test_no_supervisor_query_reads_the_whole_ticket_table(session, query):
    with plans_of(session) as plans:
        QUERIES[query](session)
    steps = [step for plan in plans for step in plan]
    assert steps
    assert not [step for step in steps if step.startswith("SCAN ticket")], steps


def test_one_grids_numbers_are_read_from_that_grids_index_range(session):
    with plans_of(session) as plans:
        QUERIES["统计 <网格>"](session)
    assert all(
        any(step.startswith("SEARCH ticket USING INDEX ix_ticket_grid_created (grid_id=?") for step in plan)
        for plan in plans
    ), plans


def test_the_overdue_list_reads_each_open_status_in_deadline_order_from_the_index(session):
    with plans_of(session) as plans:
        QUERIES["超时"](session)
    (plan,) = plans
    reads = [step for step in plan if "ix_ticket_open_due" in step]
    # One ordered range per open status, each stopped at the list's length, whatever the closed history holds.
    assert len(reads) == len(OPEN_STATUSES), plan
    assert all("status=? AND paused_at=? AND resolve_due_at" in step for step in reads), plan
