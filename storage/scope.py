"""A subtree of the organisation as a filter on queries: what a unit's command centre sees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from storage.models import Grid, Ticket


@dataclass(frozen=True)
class Within:
    """The grids whose org_path starts with `path` ("/D01/S01/": a street and everything under it), and, when
    `unrouted`, the tickets no grid has yet (the centre at the top of the tree dispatches those)."""

    path: str
    unrouted: bool = False

    def grids(self) -> ColumnElement[bool]:
        # autoescape: "_" in a unit code is a literal, not LIKE's any-character.
        return col(Grid.org_path).startswith(self.path, autoescape=True)

    def tickets(self) -> ColumnElement[bool]:
        """Tickets of grids in the subtree: one prefix match over the grid table (tens of thousands of rows in a
        city), then the ticket indexes by grid_id."""
        inside = col(Ticket.grid_id).in_(select(Grid.id).where(self.grids()))
        return or_(inside, col(Ticket.grid_id).is_(None)) if self.unrouted else inside


def ticket_filter(within: Within | None) -> list[ColumnElement[Any]]:
    """The WHERE terms for tickets inside `within`; none for the whole database."""
    return [] if within is None else [within.tickets()]


def grid_filter(within: Within | None) -> list[ColumnElement[Any]]:
    return [] if within is None else [within.grids()]
