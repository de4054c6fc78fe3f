"""People: residents, grid workers and supervisors, found by their platform ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, delete, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import Prebuilt, attached
from storage.models import Person, Photo, Role, Ticket, TicketEvent, TicketReporter

_PERSON = Person.__table__  # type: ignore[attr-defined]
_BY_OPENID = sa_select(*_PERSON.columns).where(_PERSON.c.openid == bindparam("openid"))
_FIRST_WORKER = Prebuilt(
    select(Person.id, Person.name)
    .where(col(Person.grid_id) == bindparam("grid_id"), col(Person.role) == Role.GRID_WORKER)
    .order_by(col(Person.id))
    .limit(1)
)


def by_openid(session: Session, openid: str) -> Person | None:
    """Every complaint's first read: a Core statement, its row attached as the ORM would (storage.db.attached)."""
    if session.autoflush:
        session.flush()  # as the ORM's query would: a person added but not yet written is found (cheap when clean)
    row = session.connection().execute(_BY_OPENID, {"openid": openid}).first()
    return None if row is None else attached(session, Person, row._asdict())


def by_wecom_userid(session: Session, userid: str) -> Person | None:
    return session.exec(select(Person).where(Person.wecom_userid == userid)).first()


def resident_for_openid(session: Session, openid: str) -> Person:
    """The person behind an Official Account openid; a stranger becomes a resident on first contact."""
    return by_openid(session, openid) or _first_contact(
        session, Person(openid=openid, role=Role.RESIDENT), lambda: by_openid(session, openid)
    )


def _first_contact(session: Session, person: Person, find: Callable[[], Person | None]) -> Person:
    """Insert a new person in a savepoint. Two first contacts at once both miss the row; the second insert waits on
    the unique index, fails when the first commits, and then `find` reads the row the first made."""
    try:
        with session.begin_nested():
            session.add(person)
            session.flush()
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found
    return person


def by_mp_openid(session: Session, openid: str) -> Person | None:
    return session.exec(select(Person).where(Person.mp_openid == openid)).first()


def resident_for_mp_openid(session: Session, openid: str, unionid: str | None) -> Person:
    """The person behind a mini-program openid: found by it, else by the unionid (the same person in the Official
    Account), else a new resident; as resident_for_openid, two first sign-ins at once make one person."""
    person = by_mp_openid(session, openid) or (by_unionid(session, unionid) if unionid else None)
    if person is not None:
        person.mp_openid = openid
        return person
    return _first_contact(session, Person(mp_openid=openid, role=Role.RESIDENT), lambda: by_mp_openid(session, openid))


def by_unionid(session: Session, unionid: str) -> Person | None:
    return session.exec(select(Person).where(Person.unionid == unionid)).first()


def resident_by_phone(session: Session, phone: str, other_than: int) -> Person | None:
    """Another resident with this phone number (the oldest), to make one person of two identities."""
    query = (
        select(Person)
        .where(Person.phone == phone, Person.role == Role.RESIDENT, col(Person.id) != other_than)
        .order_by(col(Person.id))
    )
    return session.exec(query).first()


def merge_into(session: Session, source: Person, target: Person) -> None:
    """Make `source` part of `target`: its tickets, links, events and photos move over, its WeChat identities too
    (where target has none), and source is deleted. For one resident reaching us through two WeChat apps."""
    assert source.id is not None and target.id is not None
    moves = (
        update(Ticket).where(col(Ticket.resident_id) == source.id).values(resident_id=target.id),
        update(TicketEvent).where(col(TicketEvent.actor_id) == source.id).values(actor_id=target.id),
        update(Photo).where(col(Photo.person_id) == source.id).values(person_id=target.id),
    )
    for statement in moves:
        session.execute(statement)
    # A link to a ticket target already reported (or is linked to) would be a second one: drop it.
    mine = select(TicketReporter.ticket_id).where(TicketReporter.person_id == target.id)
    theirs = select(Ticket.id).where(Ticket.resident_id == target.id)
    session.execute(
        delete(TicketReporter).where(
            col(TicketReporter.person_id) == source.id,
            col(TicketReporter.ticket_id).in_(mine.union(theirs).scalar_subquery()),
        )
    )
    session.execute(
        update(TicketReporter).where(col(TicketReporter.person_id) == source.id).values(person_id=target.id)
    )
    identities = {"openid": source.openid, "mp_openid": source.mp_openid, "unionid": source.unionid}
    source.openid = source.mp_openid = source.unionid = None
    session.add(source)
    session.flush()  # the unique ids are free before target takes them
    for name, value in identities.items():
        if value and not getattr(target, name):
            setattr(target, name, value)
    target.grid_id = target.grid_id or source.grid_id
    target.address = target.address or source.address
    session.add(target)
    session.delete(source)
    session.flush()


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
    none. Read on the session's connection: nothing unflushed is asked for (moves run without autoflush)."""
    found = _FIRST_WORKER.execute(session.connection(), {"grid_id": grid_id}).first()
    return (found[0], found[1]) if found is not None and found[0] is not None else None
