"""Who sees and acts on which tickets and grids: the one place that decides it.

- A grid worker acts on their own grid's tickets while no department has them; once one has (流转), and on a
  ticket their grid helps with (协办), they may still post 进展.
- Department staff act on their department's tickets, and post 进展 on those it helps with.
- A supervisor sits in a unit's command centre (Person.org_id: a community, street or district) and sees and acts
  on its subtree only. The centre at the top of the tree also has the tickets no grid has yet (it dispatches them).
  A supervisor without a unit, in a deployment without an organisation tree, sees the whole database.
- Residents act on their own tickets only; handlers/resident.py checks that with the ticket's reporters.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from storage import departments, org
from storage.models import Department, Grid, OrgUnit, Person, Role, Ticket
from storage.scope import Within


@dataclass(frozen=True)
class Scope:
    """A supervisor's reach: a unit's subtree, or everything (unit None)."""

    unit: OrgUnit | None

    @property
    def within(self) -> Within | None:
        """The filter for queries; None for everything."""
        if self.unit is None:
            return None
        return Within(self.unit.path, unrouted=self.unit.parent_id is None)

    @property
    def name(self) -> str:
        return self.unit.name if self.unit is not None else ""

    def covers(self, grid: Grid | None) -> bool:
        """Whether the grid is inside; grid None stands for a ticket not routed yet."""
        if self.unit is None:
            return True
        if grid is None:
            return self.unit.parent_id is None
        return bool(self.unit.path) and grid.org_path.startswith(self.unit.path)


def of(session: Session, person: Person) -> Scope:
    """A supervisor's scope; anyone else's is their grid alone, which may_act_on checks."""
    unit = session.get(OrgUnit, person.org_id) if person.org_id is not None else None
    return Scope(unit)


def may_act_on(session: Session, person: Person, ticket: Ticket, helping: bool = False) -> bool:
    """Whether the person may run a command on the ticket; `helping`: a command a co-handler may run too (进展)."""
    if person.role == Role.SUPERVISOR:
        grid = session.get(Grid, ticket.grid_id) if ticket.grid_id is not None else None
        return of(session, person).covers(grid)
    if person.role == Role.DEPARTMENT:
        if person.department_id is not None and ticket.department_id == person.department_id:
            return True
    elif person.role == Role.GRID_WORKER:
        own = ticket.grid_id is not None and ticket.grid_id == person.grid_id
        if own and (ticket.department_id is None or helping):
            return True
    else:
        return False
    return helping and ticket.id is not None and departments.is_helper(session, ticket.id, person)


def refusal(session: Session, person: Person, ticket: Ticket, word: str) -> str:
    """Why the person may not run `word` on the ticket; nothing changes."""
    number = ticket.id
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    if person.role == Role.SUPERVISOR:
        return outside(session, person, f"工单 {number} ", grid)
    department = session.get(Department, ticket.department_id) if ticket.department_id else None
    own_grid = person.role == Role.GRID_WORKER and grid is not None and grid.id == person.grid_id
    if department is not None and own_grid:
        return f"工单 {number} 已流转给{department.name}办理，您不能{word}。可回复“进展 {number} 说明”补充现场情况。"
    owner = f"由{department.name}办理" if department else (f"属于{grid.name}" if grid else "还没有派到网格")
    mine = "本部门" if person.role == Role.DEPARTMENT else "本网格"
    return f"工单 {number} {owner}，您不能{word}。回复“待办”查看{mine}的工单。"


def owner(session: Session, grid: Grid | None) -> str:
    """Where a ticket or grid belongs, as a refusal names it: "朝阳街道幸福社区第1网格", or "还没有派到网格"."""
    if grid is None:
        return "还没有派到网格"
    units = [u for u in org.units_on_path(session, grid.org_path) if u.level != "district"]
    return "".join(u.name for u in units) + grid.name


def outside(session: Session, person: Person, what: str, grid: Grid | None) -> str:
    """The refusal for a supervisor who named a ticket or grid outside their unit; it changes nothing."""
    mine = of(session, person).name
    return f"{what}属于{owner(session, grid)}，不在您的管辖范围（{mine}）。回复“超时”或“统计”查看本辖区的工单。"
