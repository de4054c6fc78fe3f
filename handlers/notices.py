"""What each queued notification says. Group chats are seen by many: residents' details are masked there."""

from __future__ import annotations

import json

from sqlmodel import Session

from handlers import complaints
from handlers.clock import fmt
from handlers.privacy import mask
from storage.models import Grid, Outbox, Person, Ticket

GROUP_HEADLINES = {
    "assigned": "【新工单】",
    "reopened": "【重办】居民不满意，请重新处理",
    "urged": "【催办】居民催促处理",
    "cancelled": "【已撤销】居民撤回了工单，无需处理",
}
SUPERVISOR_HEADLINES = {
    "unrouted": "【待派单】未能确定网格，请派单",
    "reopened": "【重办】居民评价不满意",
    "urged": "【催办】待派单工单被催办",
    "returned": "【退回】网格员退回了工单，请重新派单",
}
# What the resident reads on their phone; {n} is the ticket number, {note} the worker's words.
RESIDENT_NOTICES = {
    "accepted": "您反映的问题（工单 {n}）已由{worker}接单，正在处理。回复“进度 {n}”查看。",
    "progress": "工单 {n} 有新进展：{note}。回复“进度 {n}”查看。",
    "resolved": "工单 {n} 已办结：{note}。请回复“评价 {n} 满意”或“评价 {n} 不满意”，也可以打1-5分。",
    "returned": "工单 {n} 需要重新派单，社区指挥中心会尽快安排。回复“进度 {n}”查看。",
}


def render(session: Session, row: Outbox) -> str:
    """The text of one outbox row, from the ticket as it is now."""
    ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
    if ticket is None:
        return ""
    payload = json.loads(row.payload or "{}")
    if row.kind == "resident_notice":
        template = RESIDENT_NOTICES.get(row.event, "工单 {n} 有更新。回复“进度 {n}”查看。")
        worker = payload.get("worker") or "网格员"
        return template.format(n=ticket.id, note=payload.get("note", ""), worker=f"{worker[:1]}网格员")
    headlines = GROUP_HEADLINES if row.kind == "group_push" else SUPERVISOR_HEADLINES
    headline = headlines.get(row.event, f"【{row.event}】")
    extra = f"\n原因：{payload['reason']}" if payload.get("reason") else ""
    return f"{headline}{extra}\n{card_text(session, ticket)}"


def card_text(session: Session, ticket: Ticket) -> str:
    resident = session.get(Person, ticket.resident_id) if ticket.resident_id else None
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    names = [resident.name] if resident and resident.name else []
    lines = [
        f"工单 {ticket.id}｜{complaints.label(ticket)}{'｜紧急' if ticket.urgent else ''}",
        f"地点：{mask(ticket.location_text, names) or '未知'}" + (f"（{grid.name}）" if grid else ""),
        f"内容：{mask(ticket.text, names)[:300]}",
    ]
    if ticket.resolve_due_at:
        lines.append(f"时限：{fmt(ticket.resolve_due_at)} 前办结")
    lines.append(f"回复“接单 {ticket.id}”认领。" if grid else "请指挥中心确定网格后派单。")
    return "\n".join(lines)
