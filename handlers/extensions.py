"""延期 granted: by the centre's 同意延期 on a worker's request, or at once when the centre itself writes 延期."""

from __future__ import annotations

from handlers import moves
from handlers.clock import fmt
from handlers.commands import Context
from handlers.types import Reply
from storage.models import Status, Ticket
from storage.tickets import STATUS_NAMES


def grant(ctx: Context, ticket: Ticket, days: int, reason: str) -> Reply:
    """Move the resolve deadline by `days` (working days on a working clock) and tell everyone concerned."""
    if not moves.allows(ticket, "extend"):
        return Reply(f"工单 {ticket.id} 当前{STATUS_NAMES[Status(ticket.status)]}，不能延期。")
    before = ticket.resolve_due_at
    about = {"days": days, "note": reason}
    moves.do(ctx.session, ticket, "extend", ctx.person.id, ctx.now, f"{days}天 {reason}", about)
    return Reply(f"工单 {ticket.id} 已延期 {days} 天：办结时限由 {fmt(before)} 改为 {fmt(ticket.resolve_due_at)}。")
