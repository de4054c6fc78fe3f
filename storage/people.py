"""People: residents, grid workers and supervisors, found by their platform ids."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import Person, Role

_BY_OPENID = select(Person).where(col(Person.openid) == bindparam("openid"))
_FIRST_WORKER = (
    select(Person.id, Person.name)
    .where(col(Person.grid_id) == bindparam("grid_id"), col(Person.role) == Role.GRID_WORKER)
    .order_by(col(Person.id))
    .limit(1)
)


def by_openid(session: Session, openid: str) -> Person | None:
    return session.exec(_BY_OPENID, params={"openid": openid}).first()


def by_wecom_userid(session: Session, userid: str) -> Person | None:
    return session.exec(select(Person).where(Person.wecom_userid == userid)).first()


def resident_for_openid(session: Session, openid: str) -> Person:
    """The person behind an Official Account openid; a stranger becomes a resident on first contact."""
    person = by_openid(session, openid)
    if person is not None:
        return person
    try:
        # a savepoint: two first messages at once both miss the row; the second insert waits on the unique index,
        # fails when the first commits, and then reads the row the first made
        with session.begin_nested():
            person = Person(openid=openid, role=Role.RESIDENT)
            session.add(person)
            session.flush()
    except IntegrityError:
        found = by_openid(session, openid)
        if found is None:
            raise
        return found
    return person


def workers_of_grid(session: Session, grid_id: int) -> Sequence[Person]:
    query = select(Person).where(Person.grid_id == grid_id, Person.role == Role.GRID_WORKER).order_by(col(Person.id))
    return session.exec(query).all()


def worker_names(session: Session, grid_ids: Sequence[int]) -> dict[int, str]:
    """Each grid's workers' names ("王芳、李强"), for these grids only."""
    if not grid_ids:
        return {}
    query = (
        select(Person.grid_id, Person.name)
        .where(col(Person.grid_id).in_(grid_ids), Person.role == Role.GRID_WORKER)
        .order_by(col(Person.id))
    )
    names: dict[int, list[str]] = {}
    for grid_id, name in session.exec(query).all():
        if grid_id is not None:
            names.setdefault(grid_id, []).append(name)
    return {grid_id: "、".join(found) for grid_id, found in names.items()}


def first_worker_of_grid(session: Session, grid_id: int) -> tuple[int, str] | None:
    """The grid's worker a new ticket is assigned to (the first on the roster), as (id, name); None when it has
    none."""
    found = session.exec(_FIRST_WORKER, params={"grid_id": grid_id}).first()
    return (found[0], found[1]) if found is not None and found[0] is not None else None
