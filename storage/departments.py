"""Departments (城管, 住建, 供电, a 物业 company …): the tickets handed to them (流转) and co-handlers (协办)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import OPEN_STATUSES, Department, Grid, Person, Role, Ticket, TicketHelper


def by_code(session: Session, code: str) -> Department | None:
    return session.exec(select(Department).where(Department.code == code)).first()


def first_staff(session: Session, department_id: int) -> tuple[int, str] | None:
    """The department's member a ticket handed to it is assigned to (the first on the roster), as (id, name)."""
    query = (
        select(Person.id, Person.name)
        .where(Person.department_id == department_id, Person.role == Role.DEPARTMENT)
        .order_by(col(Person.id))
        .limit(1)
    )
    found = session.exec(query).first()
    return (found[0], found[1]) if found is not None and found[0] is not None else None


def open_tickets(session: Session, department_id: int, limit: int = 20) -> Sequence[Ticket]:
    query = (
        select(Ticket)
        .where(Ticket.department_id == department_id, col(Ticket.status).in_(list(OPEN_STATUSES)))
        .order_by(col(Ticket.urgent).desc(), col(Ticket.id))
        .limit(limit)
    )
    return session.exec(query).all()


def helpers(session: Session, ticket_id: int) -> Sequence[TicketHelper]:
    query = select(TicketHelper).where(TicketHelper.ticket_id == ticket_id).order_by(col(TicketHelper.id))
    return session.exec(query).all()


def add_helper(
    session: Session, ticket_id: int, grid: Grid | None, department: Department | None, now: datetime
) -> bool:
    """Add a co-handler unless it is one already; whether it was added."""
    grid_id = grid.id if grid is not None else None
    department_id = department.id if department is not None else None
    for helper in helpers(session, ticket_id):
        if helper.grid_id == grid_id and helper.department_id == department_id:
            return False
    session.add(TicketHelper(ticket_id=ticket_id, grid_id=grid_id, department_id=department_id, created_at=now))
    return True


def is_helper(session: Session, ticket_id: int, person: Person) -> bool:
    """Whether the person's grid or department is a co-handler of the ticket."""
    for helper in helpers(session, ticket_id):
        if person.role == Role.GRID_WORKER and helper.grid_id is not None and helper.grid_id == person.grid_id:
            return True
        if person.role == Role.DEPARTMENT and helper.department_id is not None:
            if helper.department_id == person.department_id:
                return True
    return False
