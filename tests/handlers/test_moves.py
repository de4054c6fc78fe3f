"""Every move goes through the table of moves: legal ones append an event, illegal ones change nothing, and the
page a newcomer reads (docs/lifecycle.md) is the table in the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from handlers import moves, notices, notify
from storage import tickets
from storage.db import transaction
from storage.models import Grid, Status, Ticket, utcnow
from storage.tickets import IllegalMove

PAGE = Path(__file__).parents[2] / "docs" / "lifecycle.md"


@pytest.fixture
def ticket_id(rt) -> int:
    with transaction(rt.engine) as s:
        grid = Grid(code="G01", name="第1网格")
        s.add(grid)
        s.flush()
        ticket = tickets.open_ticket(s, Ticket(category="facility", text="路灯坏了", grid_id=grid.id), None)
        return tickets.number(s, ticket)


def state(rt, ticket_id: int) -> tuple[str, list[str]]:
    with transaction(rt.engine) as s:
        ticket = s.get(Ticket, ticket_id)
        return ticket.status, [e.action for e in tickets.events(s, ticket_id)]


def apply(rt, ticket_id: int, action: str) -> None:
    with transaction(rt.engine) as s:
        grid = s.exec(select(Grid)).first()
        moves.do(s, s.get(Ticket, ticket_id), action, None, utcnow(), "说明", grid=grid)


def test_the_whole_loop_appends_one_event_per_move(rt, ticket_id):
    for action in ("assign", "accept", "resolve", "reopen", "accept", "resolve", "close"):
        apply(rt, ticket_id, action)
    status, actions = state(rt, ticket_id)
    assert status == Status.CLOSED
    assert actions == ["open", "assign", "accept", "resolve", "reopen", "accept", "resolve", "close"]


def test_return_sends_it_back_for_reassignment(rt, ticket_id):
    for action in ("assign", "accept", "return", "assign"):
        apply(rt, ticket_id, action)
    assert state(rt, ticket_id)[0] == Status.ASSIGNED


@pytest.mark.parametrize(
    ("path", "illegal", "reason"),
    [
        ((), "accept", "待派单"),
        ((), "resolve", "待派单"),
        (("assign",), "resolve", "已派单"),
        (("assign", "accept", "resolve", "close"), "accept", "已评价"),
        (("cancel",), "assign", "已撤销"),
        (("assign", "accept"), "cancel", "处理中"),
    ],
)
def test_illegal_move_is_refused_with_a_reason_and_changes_nothing(rt, ticket_id, path, illegal, reason):
    for action in path:
        apply(rt, ticket_id, action)
    before = state(rt, ticket_id)
    with pytest.raises(IllegalMove, match=reason):
        apply(rt, ticket_id, illegal)
    assert state(rt, ticket_id) == before


def test_assign_without_a_grid_is_refused(rt):
    with transaction(rt.engine) as s:
        ticket = tickets.open_ticket(s, Ticket(category="other", text="不知道在哪"), None)
        with pytest.raises(IllegalMove, match="网格"):
            moves.do(s, ticket, "assign", None, utcnow())
        assert ticket.status == Status.NEW


def test_every_status_can_be_reached():
    assert {m.target for m in moves.MOVES.values() if m.target} | {Status.NEW} == set(Status)


def test_a_step_that_is_not_a_move_of_status_keeps_the_status_and_still_records_its_event(rt, ticket_id):
    for action in ("assign", "accept", "progress", "urge", "supervise"):
        apply(rt, ticket_id, action)
    status, actions = state(rt, ticket_id)
    assert status == Status.ACCEPTED and actions[-3:] == ["progress", "urge", "supervise"]


def test_the_lifecycle_page_shows_the_table_of_moves_in_the_code():
    text = PAGE.read_text(encoding="utf-8")
    assert moves.BEGIN in text, "docs/lifecycle.md lost its table of moves"
    assert moves.page(text) == text, "docs/lifecycle.md is stale: run `flask --app app lifecycle-doc`"


def test_every_event_a_move_tells_has_a_text():
    texts = {
        notify.To.RESIDENTS: notices.RESIDENT_NOTICES,
        notify.To.GROUP: {**notices.GROUP_TEXTS, **notices.GROUP_HEADLINES},
        notify.To.OLD_GROUP: notices.GROUP_TEXTS,
        notify.To.HELPER: notices.GROUP_TEXTS,
        notify.To.CENTRE: {**notices.SUPERVISOR_TEXTS, **notices.SUPERVISOR_HEADLINES},
        notify.To.GROUP_OR_CENTRE: {**notices.GROUP_HEADLINES, **notices.SUPERVISOR_HEADLINES},
    }
    missing = [(n, t.event) for n, m in moves.MOVES.items() for t in m.tells if t.event not in texts[t.to]]
    assert missing == []
    assert frozenset(notices.GROUP_HEADLINES) == notify.CARD_EVENTS
