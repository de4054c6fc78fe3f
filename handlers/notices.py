"""What each queued notification says. Group chats are seen by many: residents' details are masked there."""

from __future__ import annotations

import json

from sqlmodel import Session

import nlp
import policy
from handlers import complaints
from handlers.clock import fmt
from handlers.privacy import mask, mask_name
from storage.models import Grid, Person, Ticket
from storage.outbox import Notification

GROUP_HEADLINES = {
    "assigned": "【新工单】",
    "reopened": "【重办】居民不满意，请重新处理",
    "urged": "【催办】居民催促处理",
    "cancelled": "【已撤销】居民撤回了工单，无需处理",
}
# Short group texts: {n} ticket, {label} 市政设施·路灯, {who} "@张伟 " when a worker is assigned, payload fields.
GROUP_TEXTS = {
    "remind": "【接单提醒】{who}工单 {n}（{label}）请在 {accept_due} 前回复“接单 {n}”。",
    "escalated": "【超时未接单】{who}工单 {n}（{label}）已超过接单时限，已报指挥中心。请尽快回复“接单 {n}”。",
    "warn": "【临期】{who}工单 {n}（{label}）{due} 到期。办完回复“办结 {n} 处理说明”，来不及请“延期 {n} 天数 原因”。",
    "overdue": "【已超时】{who}工单 {n}（{label}）已超时{late}，指挥中心已督办。办完回复“办结 {n} 处理说明”。",
    "very_late": (
        "【超时升级】{who}工单 {n}（{label}）已超时{late}，已报上级指挥中心。"
        "办完回复“办结 {n} 处理说明”，办不了请“退回 {n} 原因”。"
    ),
    "badly_late": (
        "【严重超时】{who}工单 {n}（{label}）已超时{late}，超过时限{badly_times}倍。请今天办结或回复“退回 {n} 原因”。"
    ),
    "supervised": "【督办】{who}指挥中心督办工单 {n}（{label}）：{reason}。回复“进展 {n} 说明”汇报。",
    "linked": "【又有居民反映】工单 {n}（{label}）：共{count}位居民反映，办结时会一并告知。",
    "linked_urgent": "【又有居民报警】{who}工单 {n}（{label}）：共{count}位居民报警，请尽快到场处置。",
    "supplemented": "【居民已补充】{who}工单 {n}：{note}。已恢复计时。",
    "extended": "【延期已批准】{who}工单 {n} 办结时限改为 {due}。",
    "extension_refused": "【延期未批准】{who}工单 {n}：{reason}。时限仍为 {due}。",
    "transferred": "【已转派】工单 {n}（{label}）已转派给{to}，本网格无需处理。",
    "routed": "【已流转】工单 {n}（{label}）已流转给{department}办理。本网格可回复“进展 {n} 说明”补充现场情况。",
    "assist": "【协办】工单 {n}（{label}）请协助办理：{reason}。{text}\n有进展请回复“进展 {n} 说明”。",
    "assisted": "【协办】工单 {n}（{label}）已请{helper}协办。",
}
SUPERVISOR_HEADLINES = {
    "unrouted": "【待派单】未能确定网格，请派单",
    "reopened": "【重办】居民评价不满意",
    "urged": "【催办】待派单工单被催办",
    "returned": "【退回】网格员退回了工单，请重新派单",
    "linked_unhappy": "【关联居民不满意】首位反映人之外的一位居民评价不满意，请回访",
}
SUPERVISOR_TEXTS = {
    "unsure": (
        "【待确认】工单 {n} 分类没把握（{guess}）：{text}\n"
        "地点指向{to}：回复“派 {n} {grid_code}”派单；类别不对先回复“改类 {n} 类别”。"
    ),
    "escalated": "【超时未接单】{grid}工单 {n}（{label}）超过接单时限仍未接单。回复“督办 {n}”或“转派 {n} 网格编号”。",
    "overdue": "【超时】{grid}工单 {n}（{label}）已超时{late}，已自动督办。回复“查 {n}”看详情。",
    "very_late": (
        "【超时升级】{grid}工单 {n}（{label}）已超时{late}，超过时限{very_times}倍。"
        "回复“督办 {n} 要求”督促，“查 {n}”看详情。"
    ),
    "badly_late": "【严重超时】{grid}工单 {n}（{label}）已超时{late}，超过时限{badly_times}倍。回复“查 {n}”看详情。",
    "flooding": (
        "【频繁反映】{resident}{window}内反映超过限额，之后的反映暂存在待派单，不推送网格群。"
        "最新一条是工单 {n}：回复“查 {n}”查看，确需处理的回复“派 {n} 网格编号”。"
    ),
    "flagged": "【内容待审核】工单 {n}（{label}）的文字被微信内容安全标为需人工审核，已照常办理。回复“查 {n}”看一看。",
    "reported_up": (
        "【上报】{worker}上报工单 {n}（{label}）：{reason}。"
        "回复“流转 {n} 部门编号 要求”交部门办理（“部门”查看编号），或“督办 {n} 要求”请网格继续办。"
    ),
    "extension_requested": (
        "【延期申请】{worker}申请工单 {n}（{label}）延期{days}天：{reason}。回复“同意延期 {n}”或“驳回延期 {n} 原因”。"
    ),
}
# What the resident reads on their phone; {n} is the ticket number, {note} the worker's words.
RESIDENT_NOTICES = {
    "accepted": "您反映的问题（工单 {n}）已由{worker}接单，正在处理。回复“进度 {n}”查看。",
    "progress": "工单 {n} 有新进展：{note}。回复“进度 {n}”查看。",
    "resolved": "工单 {n} 已办结：{note}。请回复“评价 {n} 满意”或“评价 {n} 不满意”，也可以打1-5分。",
    "returned": "工单 {n} 需要重新派单，社区指挥中心会尽快安排。回复“进度 {n}”查看。",
    "dispatched": "工单 {n} 已派给{grid}处理。回复“进度 {n}”查看。",
    "suspended": "网格员需要您补充：{note}。请直接回复补充内容，工单 {n} 会继续处理。",
    "extended": "工单 {n} 的办结时间调整为 {due}（{note}）。回复“进度 {n}”查看。",
    "rate_remind": (
        "工单 {n} 还没收到您的评价。请回复“评价 {n} 满意”或“评价 {n} 不满意”，"
        "办结{auto_close_days}天内未评价将自动结案。"
    ),
    "split": "您反映的问题已单独立案，工单号 {n}。回复“进度 {n}”查看。",
    "routed": "您反映的问题（工单 {n}）已转交{department}处理。回复“进度 {n}”查看。",
}
# What a linked reporter reads instead where the notice above carries the worker's words (written for the first
# reporter, they may name her, her phone or her flat).
LINKED_NOTICES = {
    "progress": "您反映的问题（工单 {n}）有新进展，正在处理。回复“进度 {n}”查看。",
    "resolved": (
        "您反映的问题（工单 {n}）已办结。如您那里问题还在，请直接描述，我们单独立案；"
        "也可回复“评价 {n} 满意”或“评价 {n} 不满意”。"
    ),
    "suspended": "工单 {n} 正在等待补充情况，暂停计时。回复“进度 {n}”查看。",
    "extended": "工单 {n} 的办结时间调整为 {due}。回复“进度 {n}”查看。",
}


class _Blank(dict):
    """Format fields a payload lacks read as empty rather than failing a delivery."""

    def __missing__(self, key: str) -> str:
        return ""


def render(session: Session, row: Notification) -> str:
    """The text of one outbox row, from the ticket as it is now."""
    payload = json.loads(row.payload or "{}")
    if row.ticket_id is None and payload.get("text"):
        return str(payload["text"])  # the 日报: computed when it was due
    ticket = session.get(Ticket, row.ticket_id) if row.ticket_id else None
    if ticket is None:
        return ""
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    fields = _Blank(payload)
    fields.update(
        n=ticket.id,
        label=complaints.label(ticket),
        due=fmt(ticket.resolve_due_at),
        accept_due=fmt(ticket.accept_due_at),
        grid=grid.name if grid else "",
        who=f"@{payload['worker']} " if payload.get("worker") else "",
        text=mask(ticket.text)[:120],
        guess=guess(ticket),
        # As it is when the alert goes out: a burst of links is announced once, with the total.
        count=ticket.reporter_count,
        resident=resident_name(session, ticket) if row.event == "flooding" else "",
        # The promises a text makes, as the rules are now (policy.py).
        badly_times=f"{policy.BADLY_LATE_AT:g}",
        very_times=f"{policy.VERY_LATE_AT:g}",
        auto_close_days=policy.AUTO_CLOSE_AFTER.days,
    )
    if row.kind == "resident_notice":
        linked = LINKED_NOTICES.get(row.event) if payload.get("linked") else None
        template = linked or RESIDENT_NOTICES.get(row.event, "工单 {n} 有更新。回复“进度 {n}”查看。")
        worker = payload.get("worker") or "网格员"
        # A department's member is named by the department: a resident knows 区城管执法局, not its staff.
        fields["worker"] = str(payload.get("department") or f"{worker[:1]}网格员")
        return template.format_map(fields)
    # Residents' and workers' own words go to a group seen by many: a phone or a name in a 补充 is masked there too.
    for said in ("note", "reason"):
        if isinstance(payload.get(said), str):
            fields[said] = mask(payload[said])
    texts = GROUP_TEXTS if row.kind == "group_push" else SUPERVISOR_TEXTS
    if row.event in texts:
        return texts[row.event].format_map(fields)
    headlines = GROUP_HEADLINES if row.kind == "group_push" else SUPERVISOR_HEADLINES
    headline = headlines.get(row.event, f"【{row.event}】")
    extra = f"\n原因：{fields['reason']}" if payload.get("reason") else ""
    return f"{headline}{extra}\n{card_text(session, ticket)}"


def resident_name(session: Session, ticket: Ticket) -> str:
    """ "居民王**", masked as everywhere in group chats."""
    resident = session.get(Person, ticket.resident_id) if ticket.resident_id else None
    return f"居民{mask_name(resident.name)}" if resident and resident.name else "一位居民"


def guess(ticket: Ticket) -> str:
    """ "市政设施·路灯，次选 物业房屋" or "未能判断": what the classifier thought, for a person to confirm."""
    if not ticket.keywords:
        return "未能判断类别"
    runner = f"，次选 {nlp.category_name(ticket.runner_up)}" if ticket.runner_up else ""
    return f"像是{complaints.label(ticket)}{runner}"


def card_text(session: Session, ticket: Ticket) -> str:
    resident = session.get(Person, ticket.resident_id) if ticket.resident_id else None
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    names = [resident.name] if resident and resident.name else []
    lines = [
        f"工单 {ticket.id}｜{complaints.label(ticket)}{'｜紧急' if ticket.urgent else ''}",
        f"地点：{mask(ticket.location_text, names) or '未知'}" + (f"（{grid.name}）" if grid else ""),
        f"内容：{mask(ticket.text, names)[:300]}",
    ]
    if ticket.reporter_count > 1:
        lines.append(f"反映：{ticket.reporter_count}位居民反映")
    if ticket.resolve_due_at:
        lines.append(f"时限：{fmt(ticket.resolve_due_at)} 前办结")
    lines.append(f"回复“接单 {ticket.id}”认领。" if grid else "请指挥中心确定网格后派单。")
    return "\n".join(lines)
