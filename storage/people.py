"""People: residents, grid workers and supervisors, found by their platform ids."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from storage.models import Person, Role


def by_openid(session: Session, openid: str) -> Person | None:
    return session.exec(select(Person).where(Person.openid == openid)).first()


def by_wecom_userid(session: Session, userid: str) -> Person | None:
    return session.exec(select(Person).where(Person.wecom_userid == userid)).first()


def resident_for_openid(session: Session, openid: str) -> Person:
    """The person behind an Official Account openid; a stranger becomes a resident on first contact."""
    person = by_openid(session, openid)
    if person is None:
        person = Person(openid=openid, role=Role.RESIDENT)
        session.add(person)
        session.flush()
    return person


def workers_of_grid(session: Session, grid_id: int) -> Sequence[Person]:
    query = select(Person).where(Person.grid_id == grid_id, Person.role == Role.GRID_WORKER).order_by(col(Person.id))
    return session.exec(query).all()


def supervisors(session: Session) -> Sequence[Person]:
    return session.exec(select(Person).where(Person.role == Role.SUPERVISOR).order_by(col(Person.id))).all()
