"""Every status change goes through one function: legal moves append an event, illegal ones change nothing."""

from __future__ import annotations

import pytest

from storage import tickets
from storage.db import transaction
from storage.models import Grid, Status, Ticket
from storage.tickets import TRANSITIONS, IllegalMove


@pytest.fixture
def ticket_id(rt) -> int:
    with transaction(rt.engine) as s:
        grid = Grid(code="G01", name="第1网格")
        s.add(grid)
        s.flush()
        ticket = tickets.open_ticket(s, Ticket(category="facility", text="路灯坏了", grid_id=grid.id), None)
        return ticket.id


def state(rt, ticket_id: int) -> tuple[str, list[str]]:
    with transaction(rt.engine) as s:
        ticket = s.get(Ticket, ticket_id)
        return ticket.status, [e.action for e in tickets.events(s, ticket_id)]


def apply(rt, ticket_id: int, action: str) -> None:
    with transaction(rt.engine) as s:
        tickets.transition(s, s.get(Ticket, ticket_id), action, None, "说明")


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
            tickets.transition(s, ticket, "assign", None)
        assert ticket.status == Status.NEW


def test_every_status_can_be_reached():
    assert {target for _, target in TRANSITIONS.values()} | {Status.NEW} == set(Status)
